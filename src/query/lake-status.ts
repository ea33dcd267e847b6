import type { Lake } from '../table/index.js';

/** One table's line in `lakeloop status`. */
export interface TableStatus {
  /** `layer.name`. */
  readonly name: string;
  readonly layer: string;
  readonly version: number;
  readonly files: number;
  /** From the files' stats; null when some file has none. */
  readonly rows: number | null;
  readonly sizeBytes: number;
  readonly lastCommitMs: number;
  readonly lastCommit: string;
}

/** Totals of one layer. */
export interface LayerStatus {
  readonly layer: string;
  readonly tables: number;
  readonly files: number;
  readonly rows: number | null;
  readonly sizeBytes: number;
}

/** What `lakeloop status` reports about the lake's storage. */
export interface LakeStatus {
  readonly root: string;
  /** Ordered by layer (bronze, silver, gold, quarantine, then others by name), then name. */
  readonly tables: readonly TableStatus[];
  readonly layers: readonly LayerStatus[];
}

const LAYER_ORDER = ['bronze', 'silver', 'gold', 'quarantine'];

/** Every table's latest snapshot summarized, grouped by layer. Reads logs only, never data files. */
export async function lakeStatus(lake: Lake): Promise<LakeStatus> {
  const names = await lake.tables();
  const tables: TableStatus[] = [];
  for (const name of names) {
    const snapshot = await (await lake.table(name)).snapshot();
    tables.push({
      name,
      layer: name.slice(0, name.indexOf('.')),
      version: snapshot.version,
      files: snapshot.files.length,
      rows: snapshot.numRecords(),
      sizeBytes: snapshot.sizeBytes(),
      lastCommitMs: snapshot.timestampMs,
      lastCommit: new Date(snapshot.timestampMs).toISOString(),
    });
  }
  tables.sort((a, b) => layerRank(a.layer) - layerRank(b.layer) || a.layer.localeCompare(b.layer) || a.name.localeCompare(b.name));
  const layers: LayerStatus[] = [];
  for (const table of tables) {
    const last = layers[layers.length - 1];
    if (last?.layer === table.layer) {
      layers[layers.length - 1] = {
        ...last,
        tables: last.tables + 1,
        files: last.files + table.files,
        rows: last.rows === null || table.rows === null ? null : last.rows + table.rows,
        sizeBytes: last.sizeBytes + table.sizeBytes,
      };
    } else {
      layers.push({ layer: table.layer, tables: 1, files: table.files, rows: table.rows, sizeBytes: table.sizeBytes });
    }
  }
  return { root: lake.store.description, tables, layers };
}

function layerRank(layer: string): number {
  const index = LAYER_ORDER.indexOf(layer);
  return index < 0 ? LAYER_ORDER.length : index;
}
