import { systemClock, UsageError, type Clock } from '../core/index.js';
import type { ObjectInfo } from '../storage/index.js';
import type { DeltaTable } from './delta-table.js';
import { tableKey } from './log-files.js';
import { decodeAddPath, escapePartitionName } from './partition-paths.js';

/**
 * How `vacuumTable` decides what to delete.
 *
 * @example
 * { retentionHours: 168, dryRun: true }
 */
export interface VacuumOptions {
  /** Files removed (or, never committed, written) longer ago than this are deleted (default 168 = 7 days). */
  readonly retentionHours?: number;
  /** List what would be deleted; delete nothing. */
  readonly dryRun?: boolean;
  /** Allow a retention below `MIN_RETENTION_HOURS` (only when no writer can be running). */
  readonly force?: boolean;
  /** "Now", for the retention; default the system clock. */
  readonly clock?: Clock;
  /** Checked before deleting. */
  readonly signal?: AbortSignal;
}

/** One file vacuum deleted (or, on a dry run, would delete). */
export interface VacuumedFile {
  /** The path relative to the table folder. */
  readonly path: string;
  readonly sizeBytes: number;
  /** `removed`: a tombstone older than the retention; `orphan`: never committed (a killed writer's upload), older than the retention. */
  readonly reason: 'removed' | 'orphan';
}

/** What `vacuumTable` did to one table. */
export interface VacuumResult {
  readonly table: string;
  readonly dryRun: boolean;
  readonly retentionHours: number;
  /** The version whose live files were kept. */
  readonly version: number;
  /** Deleted (dry run: to delete), sorted by path. */
  readonly files: readonly VacuumedFile[];
  readonly deletedFiles: number;
  readonly deletedBytes: number;
  /** Unreferenced files kept because they are younger than the retention. */
  readonly keptFiles: number;
  readonly keptBytes: number;
  readonly seconds: number;
}

/** Default `VacuumOptions.retentionHours`: 7 days. */
export const DEFAULT_RETENTION_HOURS = 168;
/** Below this, a writer's uploaded but not yet committed files could be deleted: refused unless `force`. */
export const MIN_RETENTION_HOURS = 1;

const HOUR_MS = 3_600_000;

/**
 * Deletes the files under a table's folder that its latest snapshot does not reference
 * and that left the table (tombstone `deletionTimestamp`) or, never committed, were
 * written (object `lastModified`) more than `retentionHours` ago (SPEC §8). Live files,
 * younger unreferenced files and everything under `_delta_log/` are kept, as are hidden
 * paths (a segment starting with `_` or `.` that is not a partition directory). Time
 * travel to a version whose files were deleted then fails naming the missing file.
 * Works on any `ObjectStore` (list + delete).
 *
 * @example
 * const result = await vacuumTable(await lake.table('bronze.orders'), { retentionHours: 168, dryRun: true });
 * result.files; // [{ path: 'event_date=2024-05-01/part-00000-….parquet', sizeBytes: 5120, reason: 'removed' }]
 */
export async function vacuumTable(table: DeltaTable, options: VacuumOptions = {}): Promise<VacuumResult> {
  const retentionHours = options.retentionHours ?? DEFAULT_RETENTION_HOURS;
  checkRetention(table.name, retentionHours, options.force ?? false);
  const started = performance.now();
  const cutoffMs = (options.clock ?? systemClock).nowMs() - retentionHours * HOUR_MS;
  const snapshot = await table.snapshot();
  const live = new Set(snapshot.files.map((f) => decodeAddPath(f.path)));
  const removedAt = new Map(snapshot.tombstones.map((t) => [decodeAddPath(t.path), t.deletionTimestamp ?? undefined]));
  const partitionDirs = snapshot.partitionColumns.map((c) => `${escapePartitionName(c)}=`);

  const prefix = table.path === '' ? '' : `${table.path}/`;
  const deleted: VacuumedFile[] = [];
  let keptFiles = 0;
  let keptBytes = 0;
  for (const object of await table.store.listAll(prefix)) {
    const path = object.key.slice(prefix.length);
    if (path.startsWith('_delta_log/') || live.has(path) || hidden(path, partitionDirs)) continue;
    const tombstoned = removedAt.has(path);
    if (leftAt(object, tombstoned ? removedAt.get(path) : undefined) <= cutoffMs) {
      deleted.push({ path, sizeBytes: object.sizeBytes, reason: tombstoned ? 'removed' : 'orphan' });
    } else {
      keptFiles++;
      keptBytes += object.sizeBytes;
    }
  }
  // A commit landing meanwhile only adds files written after the snapshot was read, which
  // are younger than the retention; one re-adding an old path is not something lakeloop writes.
  options.signal?.throwIfAborted();
  if (!options.dryRun && deleted.length > 0) await table.store.delete(deleted.map((f) => tableKey(table.path, f.path)));
  return {
    table: table.name,
    dryRun: options.dryRun ?? false,
    retentionHours,
    version: snapshot.version,
    files: deleted,
    deletedFiles: deleted.length,
    deletedBytes: deleted.reduce((sum, f) => sum + f.sizeBytes, 0),
    keptFiles,
    keptBytes,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Throws `UsageError` for a retention that is not a number of hours ≥ 0, or below
 * `MIN_RETENTION_HOURS` without `force`; `what` names the table(s) in the message.
 */
export function checkRetention(what: string, retentionHours: number, force: boolean): void {
  if (!Number.isFinite(retentionHours) || retentionHours < 0) {
    throw new UsageError(`Failed to vacuum ${what}: the retention must be a non-negative number of hours, got ${retentionHours}`);
  }
  if (retentionHours < MIN_RETENTION_HOURS && !force) {
    throw new UsageError(
      `Refusing to vacuum ${what} with a retention of ${retentionHours} h: below ${MIN_RETENTION_HOURS} h it could delete files a running writer has uploaded but not committed yet, and files recent readers still scan`,
      `Use a retention of at least ${MIN_RETENTION_HOURS}h, or --force when no writer or reader is using the table.`,
    );
  }
}

/** When a file left the table: its tombstone's time, else (never committed, or a tombstone without one) its last write. */
function leftAt(object: ObjectInfo, deletionTimestamp: number | undefined): number {
  return deletionTimestamp ?? object.lastModifiedMs;
}

/** `_delta_log/…`, `_SUCCESS`, `.tmp/…`: paths Delta readers and vacuum leave alone; `_day=…/` partition folders are not hidden. */
function hidden(path: string, partitionDirs: readonly string[]): boolean {
  const segments = path.split('/');
  return segments.some((segment, i) => {
    if (!segment.startsWith('_') && !segment.startsWith('.')) return false;
    const isDirectory = i < segments.length - 1;
    return !(isDirectory && partitionDirs.some((dir) => segment.startsWith(dir)));
  });
}
