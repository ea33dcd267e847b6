import { parseDuration } from '../core/index.js';
import type { Model } from '../models/index.js';
import { latestProgress, partitionOf, readUpstreamChanges } from '../planner/index.js';
import type { AddAction, Lake } from '../table/index.js';

/** What a run is estimated to scan, before it starts: data-file bytes and files, per model and in all. */
export interface ScanEstimate {
  readonly bytes: number;
  readonly files: number;
  readonly models: readonly { readonly model: string; readonly bytes: number; readonly files: number }[];
}

/** Options of `estimateScan`: the same as the run's (`RunModelsOptions`). */
export interface ScanEstimateOptions {
  readonly fullRefresh?: boolean;
  readonly fullRefreshModels?: ReadonlySet<string>;
  readonly eventTimeColumns?: Readonly<Record<string, string>>;
}

/**
 * Estimates the data-file bytes `runModels` will scan for `models` (DAG order), from the
 * tables' logs only: a first build, a `full` model or a `--full-refresh` reads every live
 * upstream file; an `incremental_by_partition` model the live upstream files of the
 * partitions that changed since the version it consumed; an `incremental_by_key` model the
 * files added since (an upstream without new files whole), not counting the probe of its
 * own files; an up-to-date model nothing. An upstream that this run rebuilds first counts
 * as much as that model is estimated to read (its new files are not known yet).
 *
 * @example
 * const { bytes } = await estimateScan(lake, dag.models, {});
 * if (bytes > budget) throw new BudgetExceeded(...);
 */
export async function estimateScan(lake: Lake, models: readonly Model[], options: ScanEstimateOptions = {}): Promise<ScanEstimate> {
  const estimates = new Map<string, { model: string; bytes: number; files: number }>();
  for (const model of models) {
    const table = await lake.tableIfExists(model.name);
    const fullRefresh = (options.fullRefresh ?? false) && (options.fullRefreshModels?.has(model.name) ?? true);
    const progress = table && !fullRefresh ? await latestProgress(table) : undefined;
    const whole = progress === undefined || model.header.kind === 'full';
    let bytes = 0;
    let files = 0;
    let changed = whole;
    for (const name of model.upstream) {
      const source = await lake.tableIfExists(name);
      const snapshot = source ? await source.snapshot() : undefined;
      const rebuilt = estimates.get(name);
      if (rebuilt && rebuilt.bytes > 0) {
        // Rebuilt by this run first: its new files are unknown; what it reads stands for them.
        const live = whole && snapshot ? { bytes: snapshot.sizeBytes(), files: snapshot.files.length } : { bytes: 0, files: 0 };
        const larger = live.bytes > rebuilt.bytes ? live : rebuilt;
        bytes += larger.bytes;
        files += larger.files;
        changed = true;
        continue;
      }
      if (!source || !snapshot) continue;
      let read: readonly AddAction[] = snapshot.files;
      if (!whole) {
        const change = await readUpstreamChanges(source, snapshot, progress.upstream[name], options.eventTimeColumns?.[name]);
        if (!change.noDataChange) changed = true;
        if (change.known && model.header.kind === 'incremental_by_key' && change.addedFiles.length > 0) read = change.addedFiles;
        else if (change.known && model.header.kind === 'incremental_by_partition' && change.partitionColumn !== undefined) {
          const column = change.partitionColumn;
          read = snapshot.files.filter((f) => change.changed.has(partitionOf(f.partitionValues, column)) || change.corrected.has(partitionOf(f.partitionValues, column)));
        }
      }
      bytes += read.reduce((n, f) => n + f.size, 0);
      files += read.length;
    }
    // The runner skips a model none of whose upstream tables changed: it reads nothing.
    estimates.set(model.name, changed ? { model: model.name, bytes, files } : { model: model.name, bytes: 0, files: 0 });
  }
  const list = [...estimates.values()].map((e) => Object.freeze(e));
  return Object.freeze({ bytes: list.reduce((n, e) => n + e.bytes, 0), files: list.reduce((n, e) => n + e.files, 0), models: Object.freeze(list) });
}

/** The window of a reconcile or replay, as its job gives it (see `ReconcileOptions`). */
export interface RecomputeWindow {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  /** Without `from`/`to`: the days up to the newest partition of each source (default 7d). */
  readonly window?: string | undefined;
}

const DAY_MS = 86_400_000;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Estimates the data-file bytes a reconcile or replay of `models` over `window` reads from
 * the lake, from the logs only: the live files of each upstream table that the run does not
 * recompute itself (bronze, or a model outside the selection) whose date partition falls in
 * the window (a table not partitioned by a date counts whole). Without `from` and `to`, the
 * window ends at each table's newest partition, as reconcile's default window ends at the
 * newest data; the older partitions with deferred late rows that reconcile also recomputes
 * are not counted, so this is a lower bound of what it reads.
 *
 * @example
 * const { bytes } = await estimateRecomputeScan(lake, models, { window: '7d' });
 */
export async function estimateRecomputeScan(lake: Lake, models: readonly Model[], window: RecomputeWindow): Promise<ScanEstimate> {
  const recomputed = new Set(models.map((m) => m.name));
  const perTable = new Map<string, { bytes: number; files: number }>();
  const list: { model: string; bytes: number; files: number }[] = [];
  for (const model of models) {
    let bytes = 0;
    let files = 0;
    for (const name of model.upstream) {
      if (recomputed.has(name)) continue;
      let read = perTable.get(name);
      if (!read) {
        read = await windowFiles(lake, name, window);
        perTable.set(name, read);
      }
      bytes += read.bytes;
      files += read.files;
    }
    list.push(Object.freeze({ model: model.name, bytes, files }));
  }
  return Object.freeze({ bytes: list.reduce((n, e) => n + e.bytes, 0), files: list.reduce((n, e) => n + e.files, 0), models: Object.freeze(list) });
}

async function windowFiles(lake: Lake, name: string, window: RecomputeWindow): Promise<{ bytes: number; files: number }> {
  const table = await lake.tableIfExists(name);
  if (!table) return { bytes: 0, files: 0 };
  const snapshot = await table.snapshot();
  const column = snapshot.partitionColumns[0];
  const days = (f: AddAction): string | null => partitionOf(f.partitionValues, column);
  const dated = column !== undefined && snapshot.files.every((f) => {
    const d = days(f);
    return d === null || ISO_DAY.test(d);
  });
  let read: readonly AddAction[] = snapshot.files;
  if (dated) {
    let from = window.from;
    const to = window.to;
    if (from === undefined && to === undefined) {
      const newest = snapshot.files.map(days).filter((d): d is string => d !== null).sort().at(-1);
      const spanMs = window.window === undefined ? 7 * DAY_MS : parseDuration(window.window);
      if (newest !== undefined) from = new Date(Date.parse(`${newest}T00:00:00Z`) - spanMs + DAY_MS).toISOString().slice(0, 10);
    }
    read = snapshot.files.filter((f) => {
      const d = days(f);
      return d !== null && (from === undefined || d >= from) && (to === undefined || d <= to);
    });
  }
  return { bytes: read.reduce((n, f) => n + f.size, 0), files: read.length };
}
