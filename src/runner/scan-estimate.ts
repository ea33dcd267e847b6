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
