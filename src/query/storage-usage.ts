import { formatSize } from '../config/index.js';
import { LocalObjectStore } from '../storage/index.js';
import { LAYERS, vacuumTable, type Lake } from '../table/index.js';

/** Files below this size count as small (the compaction target is far above it). */
export const SMALL_FILE_BYTES = 8 * 2 ** 20;

/** One table's storage: what its current snapshot holds, and what its folder holds besides. */
export interface TableStorage {
  readonly name: string;
  readonly layer: string;
  /** Live data files (referenced by the current snapshot) and their bytes. */
  readonly files: number;
  readonly liveBytes: number;
  /** Live files smaller than `StorageUsage.smallFileBytes`. */
  readonly smallFiles: number;
  /** Files in the table's folder the current snapshot does not reference (removed, or never committed); null when not counted. */
  readonly unreferencedFiles: number | null;
  readonly unreferencedBytes: number | null;
}

/** One layer's storage, against its quota when one is set. */
export interface LayerStorage {
  readonly layer: string;
  readonly tables: number;
  readonly files: number;
  readonly liveBytes: number;
  readonly smallFiles: number;
  readonly unreferencedFiles: number | null;
  readonly unreferencedBytes: number | null;
  /** `budgets.storageQuota.<layer>` in bytes; null when none. */
  readonly quotaBytes: number | null;
  /** true when `liveBytes` is above the quota. */
  readonly overQuota: boolean;
}

/** Storage per table and layer, as `lakeloop status` reports it. */
export interface StorageUsage {
  readonly smallFileBytes: number;
  /** Whether unreferenced files were counted (a listing of every table folder: done on a local lake only). */
  readonly unreferencedCounted: boolean;
  readonly layers: readonly LayerStorage[];
  readonly tables: readonly TableStorage[];
}

/** Options of `storageUsage`. */
export interface StorageUsageOptions {
  /** Layer → quota in bytes. */
  readonly quotaBytes?: Readonly<Partial<Record<string, number>>>;
  readonly smallFileBytes?: number;
  /** List every table folder for unreferenced files; default: only on a local lake, where a listing is cheap. */
  readonly countUnreferenced?: boolean;
  /** Only these layers (default: all). */
  readonly layers?: readonly string[];
}

/**
 * Every table's live bytes and files, small files and (on a local lake) unreferenced files,
 * summed per layer and compared with the layers' quotas. Reads the logs (and, when counting
 * unreferenced files, lists the table folders the way a dry-run vacuum does).
 *
 * @example
 * const usage = await storageUsage(lake, { quotaBytes: { bronze: 100e9 } });
 * usage.layers.find((l) => l.layer === 'bronze')?.overQuota; // false
 */
export async function storageUsage(lake: Lake, options: StorageUsageOptions = {}): Promise<StorageUsage> {
  const smallFileBytes = options.smallFileBytes ?? SMALL_FILE_BYTES;
  const countUnreferenced = options.countUnreferenced ?? lake.store instanceof LocalObjectStore;
  const tables: TableStorage[] = [];
  for (const name of await lake.tables()) {
    const layer = name.slice(0, name.indexOf('.'));
    if (options.layers && !options.layers.includes(layer)) continue;
    const table = await lake.table(name);
    const snapshot = await table.snapshot();
    let unreferenced: { files: number; bytes: number } | null = null;
    if (countUnreferenced) {
      // A dry run deletes nothing; what is past the retention and what is not are both unreferenced.
      const dry = await vacuumTable(table, { dryRun: true });
      unreferenced = { files: dry.deletedFiles + dry.keptFiles, bytes: dry.deletedBytes + dry.keptBytes };
    }
    tables.push({
      name,
      layer,
      files: snapshot.files.length,
      liveBytes: snapshot.sizeBytes(),
      smallFiles: snapshot.files.filter((f) => f.size < smallFileBytes).length,
      unreferencedFiles: unreferenced?.files ?? null,
      unreferencedBytes: unreferenced?.bytes ?? null,
    });
  }
  const layers = new Map<string, LayerStorage>();
  const plus = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a + b);
  for (const t of tables) {
    const last = layers.get(t.layer);
    const quotaBytes = options.quotaBytes?.[t.layer] ?? null;
    const sum = last
      ? {
          ...last,
          tables: last.tables + 1,
          files: last.files + t.files,
          liveBytes: last.liveBytes + t.liveBytes,
          smallFiles: last.smallFiles + t.smallFiles,
          unreferencedFiles: plus(last.unreferencedFiles, t.unreferencedFiles),
          unreferencedBytes: plus(last.unreferencedBytes, t.unreferencedBytes),
        }
      : { layer: t.layer, tables: 1, files: t.files, liveBytes: t.liveBytes, smallFiles: t.smallFiles, unreferencedFiles: t.unreferencedFiles, unreferencedBytes: t.unreferencedBytes, quotaBytes, overQuota: false };
    layers.set(t.layer, { ...sum, overQuota: quotaBytes !== null && sum.liveBytes > quotaBytes });
  }
  // A layer with a quota and no tables yet still shows its quota.
  for (const [layer, quotaBytes] of Object.entries(options.quotaBytes ?? {})) {
    if (quotaBytes === undefined || layers.has(layer) || (options.layers && !options.layers.includes(layer))) continue;
    layers.set(layer, { layer, tables: 0, files: 0, liveBytes: 0, smallFiles: 0, unreferencedFiles: countUnreferenced ? 0 : null, unreferencedBytes: countUnreferenced ? 0 : null, quotaBytes, overQuota: false });
  }
  const rank = (layer: string): number => ((LAYERS as readonly string[]).includes(layer) ? (LAYERS as readonly string[]).indexOf(layer) : LAYERS.length);
  const ordered = [...layers.values()].sort((a, b) => rank(a.layer) - rank(b.layer) || a.layer.localeCompare(b.layer));
  return { smallFileBytes, unreferencedCounted: countUnreferenced, layers: ordered, tables };
}

/**
 * One line per layer over its quota, naming the usage, the quota and what to do (empty: none is).
 *
 * @example
 * quotaWarnings(usage); // ['bronze holds 120.0 GB, over its quota of 100.0 GB (budgets.storageQuota.bronze): ...']
 */
export function quotaWarnings(usage: StorageUsage): string[] {
  return usage.layers
    .filter((l) => l.overQuota && l.quotaBytes !== null)
    .map(
      (l) =>
        `${l.layer} holds ${formatSize(l.liveBytes)}, over its quota of ${formatSize(l.quotaBytes as number)} (budgets.storageQuota.${l.layer} in lakeloop.config.ts); ` +
        'compact, vacuum or drop data there, or raise the quota',
    );
}
