import { mapLimit, parseStats, partitionKey, type AddAction, type DeltaTable, type ParsedActions, type Snapshot } from '../table/index.js';
import { progressOf } from './progress.js';

/** Commit modes whose partitions were already recomputed downstream by the same machinery. */
const CORRECTION_MODES = new Set(['reconcile', 'replay']);

/**
 * What changed in one upstream table between the version a model consumed and the
 * version it reads now, from the table's own log: the partitions touched, the files
 * added, and the largest event time in them.
 */
export interface UpstreamChanges {
  readonly table: string;
  /** The snapshot the run reads. */
  readonly snapshot: Snapshot;
  /** The version the model's last commit consumed (undefined: never). */
  readonly consumed: number | undefined;
  /** false when the changes are unknown (first run, or a commit file was cleaned up): recompute everything. */
  readonly known: boolean;
  /** The table's partition column when it has exactly one; a table without one is read whole. */
  readonly partitionColumn: string | undefined;
  /** Partition value → rows added there by ordinary commits (a partition only removed from counts 0). */
  readonly changed: ReadonlyMap<string | null, number>;
  /** Partitions rewritten by reconcile/replay commits: recomputed downstream when hot, never counted as late. */
  readonly corrected: ReadonlySet<string | null>;
  /** Files added since `consumed` that are live in `snapshot` (and compacted files that took over rows added since). */
  readonly addedFiles: readonly AddAction[];
  /** The largest event time among the added rows, epoch ms (undefined when unknown). */
  readonly maxEventTimeMs: number | undefined;
  /** Partition → the smallest event time among the rows ordinary commits added there (from file stats; bronze tables only). */
  readonly minEventTimeMs: ReadonlyMap<string | null, number>;
  /** true when no commit since `consumed` changed data: there were none, or only compactions (nothing to run). */
  readonly noDataChange: boolean;
}

/**
 * Reads what changed in `table` after version `consumed` up to `snapshot.version`.
 * `eventTimeColumn` names the column whose max stat is the event time (bronze tables);
 * for a model's table the event time comes from its commits' progress records.
 * Compaction commits (only `dataChange: false` actions) change no partition.
 *
 * @example
 * const changes = await readUpstreamChanges(bronze, await bronze.snapshot(), 12, 'order_ts');
 * [...changes.changed.keys()] // ['2026-01-10']
 */
export async function readUpstreamChanges(table: DeltaTable, snapshot: Snapshot, consumed: number | undefined, eventTimeColumn: string | undefined): Promise<UpstreamChanges> {
  const partitionColumn = snapshot.partitionColumns.length === 1 ? snapshot.partitionColumns[0] : undefined;
  const base = { table: table.name, snapshot, consumed, partitionColumn };
  if (consumed === undefined || consumed > snapshot.version) return whole(table, snapshot, base, eventTimeColumn);
  const versions: number[] = [];
  for (let v = consumed + 1; v <= snapshot.version; v++) versions.push(v);
  const commits = await mapLimit(versions, 16, (v) => table.commitActions(v));
  if (commits.some((c) => c === undefined)) return whole(table, snapshot, base, eventTimeColumn);

  const live = new Set(snapshot.files.map((f) => f.path));
  const changed = new Map<string | null, number>();
  const corrected = new Set<string | null>();
  // Files holding rows added since `consumed`, in commit order (a Map keeps it).
  const added = new Map<string, AddAction>();
  let maxEventTimeMs: number | undefined;
  const minEventTimeMs = new Map<string | null, number>();
  let noDataChange = true;
  for (const commit of commits) {
    if (!commit) continue;
    if (rearrangesOnly(commit)) {
      // A compaction rewrote rows without changing them: it touches no partition. Where it
      // merged files whose rows are new here, the files it wrote carry those rows on.
      const carrying = new Set(commit.removes.filter((r) => added.has(r.path)).map((r) => partitionKey(snapshot.partitionColumns, r.partitionValues ?? {})));
      for (const add of commit.adds) if (carrying.has(partitionKey(snapshot.partitionColumns, add.partitionValues))) added.set(add.path, add);
      continue;
    }
    noDataChange = false;
    const progress = progressOf(commit.commitInfo);
    // Read from the record itself: reconcile commits of older lakes carry no upstream versions (no progress).
    const mode = (commit.commitInfo as { lakeloop?: { mode?: unknown } } | undefined)?.lakeloop?.mode;
    const correction = typeof mode === 'string' && CORRECTION_MODES.has(mode);
    if (progress?.maxEventTimeMs !== undefined) maxEventTimeMs = max(maxEventTimeMs, progress.maxEventTimeMs);
    for (const add of commit.adds) {
      const value = partitionOf(add.partitionValues, partitionColumn);
      if (correction) corrected.add(value);
      else changed.set(value, (changed.get(value) ?? 0) + (parseStats(add)?.numRecords ?? 0));
      added.set(add.path, add);
      if (eventTimeColumn) maxEventTimeMs = max(maxEventTimeMs, maxStatMs(add, eventTimeColumn));
      const oldest = eventTimeColumn && !correction ? statMs(add, eventTimeColumn, 'minValues') : undefined;
      if (oldest !== undefined) minEventTimeMs.set(value, Math.min(minEventTimeMs.get(value) ?? oldest, oldest));
    }
    for (const remove of commit.removes) {
      const value = partitionOf(remove.partitionValues ?? {}, partitionColumn);
      if (correction) corrected.add(value);
      else if (!changed.has(value)) changed.set(value, 0);
    }
  }
  const addedFiles = [...added.values()].filter((add) => live.has(add.path));
  return { ...base, known: true, changed, corrected, addedFiles, maxEventTimeMs, minEventTimeMs, noDataChange };
}

/** A commit that only moves rows between files (compaction: every add and remove has `dataChange: false`). */
function rearrangesOnly(commit: ParsedActions): boolean {
  return commit.fileActions.length > 0 && commit.fileActions.every((action) => ('add' in action ? action.add.dataChange : action.remove.dataChange) === false);
}

async function whole(
  table: DeltaTable,
  snapshot: Snapshot,
  base: Pick<UpstreamChanges, 'table' | 'snapshot' | 'consumed' | 'partitionColumn'>,
  eventTimeColumn: string | undefined,
): Promise<UpstreamChanges> {
  let maxEventTimeMs: number | undefined;
  if (eventTimeColumn) for (const file of snapshot.files) maxEventTimeMs = max(maxEventTimeMs, maxStatMs(file, eventTimeColumn));
  else if (snapshot.version >= 0) maxEventTimeMs = progressOf((await table.commitActions(snapshot.version))?.commitInfo)?.maxEventTimeMs;
  const changed = new Map<string | null, number>();
  for (const file of snapshot.files) {
    const value = partitionOf(file.partitionValues, base.partitionColumn);
    changed.set(value, (changed.get(value) ?? 0) + (parseStats(file)?.numRecords ?? 0));
  }
  return { ...base, known: false, changed, corrected: new Set(), addedFiles: snapshot.files, maxEventTimeMs, minEventTimeMs: new Map(), noDataChange: false };
}

/** The value of a file's partition column (null for an unpartitioned table or a null partition). */
export function partitionOf(values: Readonly<Record<string, string | null>>, column: string | undefined): string | null {
  return column === undefined ? null : (values[column] ?? null);
}

function maxStatMs(add: AddAction, column: string): number | undefined {
  return statMs(add, column, 'maxValues');
}

function statMs(add: AddAction, column: string, which: 'minValues' | 'maxValues'): number | undefined {
  // A partition column has no stats in newer tables (its partition value is its min and max).
  const value = parseStats(add)?.[which][column] ?? add.partitionValues[column];
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function max(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}
