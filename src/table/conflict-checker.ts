import type { ParsedActions, PartitionValues } from './actions.js';
import { decodeAddPath, partitionMatches, type PartitionSpec } from './partition-paths.js';

/** What a commit that lost a race depends on, to judge the commits that won it. */
export interface PendingCommit {
  /** decoded paths of the files this commit removes. */
  readonly removedPaths: ReadonlySet<string>;
  /** the partitions whose content this commit depends on: those of its removes (unless it only rewrites them: compaction) plus its readPartitions. */
  readonly touchedPartitions: readonly PartitionSpec[];
  readonly txn: { readonly appId: string; readonly version: number } | undefined;
  /** further txns this commit records; a winner that applied one of them conflicts. */
  readonly extraTxns: readonly { readonly appId: string; readonly version: number }[];
}

/** What to do about one winning commit. */
export type Verdict = { readonly kind: 'compatible' } | { readonly kind: 'already-applied' } | { readonly kind: 'conflict'; readonly reason: string };

/**
 * Judges a commit that won the race against a pending one (optimistic concurrency, as in
 * Delta's WriteSerializable level): the winner already recorded our txn → ours is a no-op;
 * it changed metadata or protocol, removed a file we remove, or added/removed files in a
 * partition we touch → conflict; anything else (e.g. other partitions, blind appends) is
 * compatible and we retry at the next version.
 */
export function judgeWinner(pending: PendingCommit, winnerVersion: number, winner: ParsedActions): Verdict {
  if (pending.txn) {
    const { appId, version } = pending.txn;
    if (winner.txns.some((t) => t.appId === appId && t.version >= version)) return { kind: 'already-applied' };
  }
  for (const extra of pending.extraTxns) {
    if (winner.txns.some((t) => t.appId === extra.appId && t.version >= extra.version)) {
      return conflict(winnerVersion, `it applied txn ${extra.appId} v${extra.version}, which this commit also carries`);
    }
  }
  if (winner.metaData) return conflict(winnerVersion, 'it changed the table metadata (schema, partitioning or configuration)');
  if (winner.protocol) return conflict(winnerVersion, 'it changed the table protocol');
  for (const remove of winner.removes) {
    const path = safeDecode(remove.path);
    if (pending.removedPaths.has(path)) return conflict(winnerVersion, `it also removed ${remove.path}, which this commit removes`);
  }
  if (pending.touchedPartitions.length === 0) return { kind: 'compatible' };
  for (const add of winner.adds) {
    const hit = touched(pending, add.partitionValues);
    if (hit) return conflict(winnerVersion, `it added ${add.path} in partition ${JSON.stringify(hit)}, which this commit read`);
  }
  for (const remove of winner.removes) {
    // A remove without partitionValues (older writers) could be anywhere: assume it overlaps.
    const hit = remove.partitionValues ? touched(pending, remove.partitionValues) : {};
    if (hit) return conflict(winnerVersion, `it removed ${remove.path} in partition ${JSON.stringify(hit)}, which this commit read`);
  }
  return { kind: 'compatible' };
}

function touched(pending: PendingCommit, values: PartitionValues): PartitionSpec | undefined {
  return pending.touchedPartitions.find((spec) => partitionMatches(values, spec));
}

function conflict(version: number, reason: string): Verdict {
  return { kind: 'conflict', reason: `version ${version} won the race and ${reason}` };
}

function safeDecode(path: string): string {
  try {
    return decodeAddPath(path);
  } catch {
    return path;
  }
}
