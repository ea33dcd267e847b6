import { CommitConflict, LakeloopError } from '../core/index.js';
import type { AddAction, RemoveAction } from './actions.js';
import type { DeltaTable } from './delta-table.js';
import { parseStats } from './file-stats.js';
import { tableKey } from './log-files.js';
import { decodeAddPath, partitionKey, partitionMatches, type PartitionSpec } from './partition-paths.js';
import type { Snapshot } from './snapshot.js';

/**
 * How `compactTable` picks and rewrites small files.
 *
 * @example
 * { minFiles: 5, targetFileBytes: 128 * 1024 * 1024 }
 */
export interface CompactOptions {
  /** A partition is compacted when it holds at least this many small files (default 5). */
  readonly minFiles?: number;
  /** Files below this size are small; the files written aim at this size (default 128 MiB). */
  readonly targetFileBytes?: number;
  /** How many times the whole compaction is planned again after losing a race to a writer of the same partitions (default 3). */
  readonly attempts?: number;
  /** Checked between steps; an aborted compaction commits nothing and deletes what it wrote. */
  readonly signal?: AbortSignal;
  /**
   * Only files written before this instant (epoch ms, the add's `modificationTime`) are
   * merged: the streaming path leaves its newest files alone, where re-sent keys land.
   */
  readonly modifiedBefore?: number;
  /** Only these partitions (default: all). */
  readonly partitions?: readonly PartitionSpec[];
}

/** What `compactTable` did to one table (`committed: false`: nothing to do, no commit). */
export interface CompactionResult {
  readonly table: string;
  readonly committed: boolean;
  /** The version of the compaction commit, or the version read when nothing was done. */
  readonly version: number;
  /** Partitions compacted. */
  readonly partitions: number;
  /** Small files merged (removed) and files written in their place. */
  readonly filesRewritten: number;
  readonly filesWritten: number;
  /** The table's live files and bytes before and after. */
  readonly filesBefore: number;
  readonly filesAfter: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Rows moved into the new files. */
  readonly rows: number;
  readonly seconds: number;
}

/** Default `CompactOptions.minFiles`. */
export const DEFAULT_COMPACT_MIN_FILES = 5;
/** Default `CompactOptions.targetFileBytes`: 128 MiB. */
export const DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024;

/**
 * Merges small files (SPEC §8): every partition holding at least `minFiles` files smaller
 * than `targetFileBytes` has them rewritten into as few files as fit the target, all in ONE
 * `OPTIMIZE` commit whose adds and removes carry `dataChange: false` (same rows, same
 * schema; txn ids untouched) and whose `commitInfo.lakeloop.mode` is `compact`, so
 * downstream runs do not take it for new data. It depends only on the files it merges: a
 * concurrent blind append to the same partitions is compatible (the commit goes to the next
 * version), while a concurrent writer that removed one of those files (a partition replace,
 * a reconcile, another compaction) wins: the compaction is planned again (up to `attempts`
 * times) or fails with `CommitConflict`; rows are never lost or doubled.
 * A table with nothing to do gets no commit.
 *
 * @example
 * const result = await compactTable(await lake.table('bronze.orders'), { minFiles: 5 });
 * result.filesRewritten; // 48 small files …
 * result.filesWritten;   // … became 2
 */
export async function compactTable(table: DeltaTable, options: CompactOptions = {}): Promise<CompactionResult> {
  const minFiles = options.minFiles ?? DEFAULT_COMPACT_MIN_FILES;
  const targetFileBytes = options.targetFileBytes ?? DEFAULT_TARGET_FILE_BYTES;
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(minFiles) || minFiles < 2) {
    throw new LakeloopError('USAGE', `Failed to compact ${table.name}: minFiles must be an integer ≥ 2, got ${minFiles}`);
  }
  if (!(targetFileBytes > 0)) throw new LakeloopError('USAGE', `Failed to compact ${table.name}: targetFileBytes must be positive, got ${targetFileBytes}`);
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    const snapshot = await table.snapshot();
    const plan = planCompaction(snapshot, minFiles, targetFileBytes, options.modifiedBefore, options.partitions);
    if (plan.length === 0) return unchanged(table, snapshot, started);
    try {
      return await rewrite(table, snapshot, plan, { minFiles, targetFileBytes, started, signal: options.signal });
    } catch (error) {
      if (!(error instanceof CommitConflict) || attempt >= attempts) throw error;
    }
  }
}

/**
 * The small files `compactTable` would merge now with these settings (files under the target
 * size, in partitions holding at least `minFiles` of them), and their partitions: what
 * `lakeloop status` shows so that small files never pile up unseen.
 *
 * @example
 * smallFiles(await table.snapshot()); // { files: 480, partitions: 60 } after a bulk load of 8 batches over 60 dates
 */
export function smallFiles(snapshot: Snapshot, options: Pick<CompactOptions, 'minFiles' | 'targetFileBytes'> = {}): { files: number; partitions: number } {
  const plan = planCompaction(snapshot, options.minFiles ?? DEFAULT_COMPACT_MIN_FILES, options.targetFileBytes ?? DEFAULT_TARGET_FILE_BYTES, undefined, undefined);
  return { files: plan.reduce((sum, p) => sum + p.groups.reduce((n, g) => n + g.length, 0), 0), partitions: plan.length };
}

/** The files of one partition to merge, in groups that each become one file. */
interface PartitionPlan {
  readonly spec: PartitionSpec;
  readonly groups: readonly (readonly AddAction[])[];
}

/**
 * Per partition with ≥ `minFiles` small files: first-fit-decreasing bins of at most
 * `targetFileBytes` (input bytes estimate output bytes); a bin of one file stays as it is.
 */
function planCompaction(
  snapshot: Snapshot,
  minFiles: number,
  targetFileBytes: number,
  modifiedBefore: number | undefined,
  partitions: readonly PartitionSpec[] | undefined,
): PartitionPlan[] {
  const byPartition = new Map<string, AddAction[]>();
  for (const file of snapshot.files) {
    if (file.size >= targetFileBytes) continue;
    if (partitions && !partitions.some((spec) => partitionMatches(file.partitionValues, spec))) continue;
    if (modifiedBefore !== undefined && file.modificationTime >= modifiedBefore) continue;
    const key = partitionKey(snapshot.partitionColumns, file.partitionValues);
    const list = byPartition.get(key) ?? [];
    list.push(file);
    byPartition.set(key, list);
  }
  const plans: PartitionPlan[] = [];
  for (const files of byPartition.values()) {
    if (files.length < minFiles) continue;
    const bins: { bytes: number; files: AddAction[] }[] = [];
    for (const file of [...files].sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : 1))) {
      const bin = bins.find((b) => b.bytes + file.size <= targetFileBytes);
      if (bin) {
        bin.bytes += file.size;
        bin.files.push(file);
      } else bins.push({ bytes: file.size, files: [file] });
    }
    const groups = bins.filter((b) => b.files.length > 1).map((b) => b.files);
    const first = files[0] as AddAction;
    const spec: Record<string, string | null> = {};
    for (const column of snapshot.partitionColumns) spec[column] = first.partitionValues[column] ?? null;
    if (groups.length > 0) plans.push({ spec, groups });
  }
  return plans;
}

async function rewrite(
  table: DeltaTable,
  snapshot: Snapshot,
  plan: readonly PartitionPlan[],
  settings: { minFiles: number; targetFileBytes: number; started: number; signal: AbortSignal | undefined },
): Promise<CompactionResult> {
  const written: AddAction[] = [];
  let committed = false;
  try {
    // Round i writes the i-th group of every partition: one file per partition tuple, so
    // one query per round writes one file per group.
    const rounds = Math.max(...plan.map((p) => p.groups.length));
    for (let round = 0; round < rounds; round++) {
      settings.signal?.throwIfAborted();
      const files = plan.flatMap((p) => p.groups[round] ?? []);
      const adds = await table.writeDataFiles(await snapshot.scanSql(table.store, files), { partitionColumns: snapshot.partitionColumns });
      written.push(...adds);
    }
    const merged = plan.flatMap((p) => p.groups.flat());
    const rowsIn = rowCount(merged);
    const rowsOut = rowCount(written);
    if (rowsIn !== null && rowsOut !== rowsIn) {
      throw new LakeloopError('COMPACT', `Failed to compact ${table.name}: the merged files hold ${rowsIn} rows but the rewrite produced ${rowsOut ?? 'an unknown number of'}; nothing was committed`);
    }
    settings.signal?.throwIfAborted();
    const result = await table.commit({
      readVersion: snapshot.version,
      add: written.map((add) => ({ ...add, dataChange: false })),
      remove: merged.map(retire),
      // It depends on the files it merges, not on their partitions: blind appends landing
      // there meanwhile (a collector) are compatible, a writer that removed one of them wins.
      rewritesRemovedOnly: true,
      operation: 'OPTIMIZE',
      operationParameters: { predicate: '[]', zOrderBy: '[]', minFiles: settings.minFiles, targetFileBytes: settings.targetFileBytes },
      commitInfo: { lakeloop: { mode: 'compact' } },
    });
    committed = true;
    const after = await table.snapshot({ version: result.version });
    return {
      table: table.name,
      committed: true,
      version: result.version,
      partitions: plan.length,
      filesRewritten: merged.length,
      filesWritten: written.length,
      filesBefore: snapshot.files.length,
      filesAfter: after.files.length,
      bytesBefore: snapshot.sizeBytes(),
      bytesAfter: after.sizeBytes(),
      rows: rowsOut ?? 0,
      seconds: (performance.now() - settings.started) / 1000,
    };
  } finally {
    // Files of a compaction that did not land are referenced by nothing: delete them now
    // rather than leave them to vacuum.
    if (!committed && written.length > 0) {
      await table.store.delete(written.map((add) => tableKey(table.path, decodeAddPath(add.path)))).catch(() => undefined);
    }
  }
}

/** The remove of a merged file: no data change; the deletion time is the commit's. */
function retire(file: AddAction): RemoveAction {
  return { path: file.path, dataChange: false, extendedFileMetadata: true, partitionValues: file.partitionValues, size: file.size };
}

function rowCount(files: readonly AddAction[]): number | null {
  let rows = 0;
  for (const file of files) {
    const stats = parseStats(file);
    if (!stats) return null;
    rows += stats.numRecords;
  }
  return rows;
}

function unchanged(table: DeltaTable, snapshot: Snapshot, started: number): CompactionResult {
  const bytes = snapshot.sizeBytes();
  return {
    table: table.name,
    committed: false,
    version: snapshot.version,
    partitions: 0,
    filesRewritten: 0,
    filesWritten: 0,
    filesBefore: snapshot.files.length,
    filesAfter: snapshot.files.length,
    bytesBefore: bytes,
    bytesAfter: bytes,
    rows: 0,
    seconds: (performance.now() - started) / 1000,
  };
}
