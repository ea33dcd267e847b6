import { readDuplicates } from '../ingest/index.js';
import { smallFiles, type CommitSummary, type DeltaTable, type Lake } from '../table/index.js';

/** One table's line in `lakeloop status`. */
export interface TableStatus {
  /** `layer.name`. */
  readonly name: string;
  readonly layer: string;
  readonly version: number;
  readonly files: number;
  /** Small files `lakeloop compact` would merge (see `smallFiles`), and the partitions holding them. */
  readonly smallFiles: number;
  readonly smallFilePartitions: number;
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

/** One source's ingestion counters, summed from its bronze commits (`commitInfo.lakeloop`). */
export interface SourceStatus {
  readonly source: string;
  /** Records read from the input by batches that landed. */
  readonly received: number;
  readonly landed: number;
  readonly quarantined: number;
  /** Re-delivered records skipped because their batch or request key had already landed. */
  readonly duplicates: number;
  /** Batches committed (a re-sent batch that was skipped as a duplicate commits nothing and is not counted). */
  readonly batches: number;
  /** Input bytes of those batches, where known. */
  readonly bytes: number;
  readonly lastBatchMs: number | null;
  /** Collector idempotency keys bronze remembers now: those of the contract's `idempotencyWindow`. */
  readonly idempotencyKeys: number;
}

/** What `lakeloop status` reports about the lake's storage. */
export interface LakeStatus {
  readonly root: string;
  /** Ingestion counters per source (one per bronze table). */
  readonly sources: readonly SourceStatus[];
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
    const small = smallFiles(snapshot);
    tables.push({
      name,
      layer: name.slice(0, name.indexOf('.')),
      version: snapshot.version,
      files: snapshot.files.length,
      smallFiles: small.files,
      smallFilePartitions: small.partitions,
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
  const sources: SourceStatus[] = [];
  for (const name of names.filter((n) => n.startsWith('bronze.'))) {
    sources.push(await sourceStatus(lake, name));
  }
  return { root: lake.store.description, sources, tables, layers };
}

/** A source's counters summed over its bronze commits up to `version`. */
interface SourceTotals {
  readonly version: number;
  readonly received: number;
  readonly landed: number;
  readonly quarantined: number;
  readonly batches: number;
  readonly bytes: number;
  readonly lastBatchMs: number | null;
}

/**
 * Each bronze handle's totals as last summed: the next status (the console asks every second)
 * adds the commits since, instead of reading the whole history again. A long-running
 * collector's bronze has more commits than a log reader remembers (`REMEMBERED_COMMITS`), so
 * summing from the start would read the older ones from the log every time.
 */
const totalsByTable = new WeakMap<DeltaTable, SourceTotals>();

/** Sums the ingestion counters that every bronze batch commit carries. */
async function sourceStatus(lake: Lake, name: string): Promise<SourceStatus> {
  const table = await lake.table(name);
  const totals = await sourceTotals(table);
  const source = name.slice('bronze.'.length);
  let idempotencyKeys = 0;
  for (const _key of (await table.snapshot()).txns.keyTxns()) idempotencyKeys++;
  const { version: _version, ...counts } = totals;
  return { source, ...counts, duplicates: await readDuplicates(lake.store, source), idempotencyKeys };
}

async function sourceTotals(table: DeltaTable): Promise<SourceTotals> {
  const known = totalsByTable.get(table);
  let commits: CommitSummary[];
  const latest = (await table.snapshot()).version;
  if (known === undefined || known.version > latest) commits = await table.history();
  else {
    // A commit may land between the two reads: ask again until the commits reach the last summed.
    let limit = latest - known.version;
    for (;;) {
      commits = limit === 0 ? [] : await table.history({ limit });
      const oldest = commits[commits.length - 1]?.version ?? known.version + 1;
      if (oldest <= known.version + 1 || commits.length < limit) break;
      limit += oldest - known.version - 1;
    }
  }
  const base = known !== undefined && known.version <= latest ? known : { version: -1, received: 0, landed: 0, quarantined: 0, batches: 0, bytes: 0, lastBatchMs: null };
  const totals = { ...base, version: Math.max(base.version, commits[0]?.version ?? latest) };
  for (const commit of commits) {
    if (commit.version <= base.version) continue;
    const info = (commit.commitInfo as { lakeloop?: Record<string, unknown> } | undefined)?.lakeloop;
    if (!info || typeof info['landed'] !== 'number') continue;
    totals.batches += 1;
    totals.received += Number(info['received'] ?? 0);
    totals.landed += Number(info['landed'] ?? 0);
    totals.quarantined += Number(info['quarantined'] ?? 0);
    totals.bytes += Number(info['bytes'] ?? 0);
    totals.lastBatchMs = Math.max(totals.lastBatchMs ?? 0, commit.timestampMs);
  }
  totalsByTable.set(table, totals);
  return totals;
}

/**
 * A source's records landed and quarantined by the batches its bronze table committed at or
 * after `sinceMs` (commit time), from the counters each batch commit carries: the window of
 * its completeness SLO, read from the log alone. A source without a bronze table has none.
 *
 * @example
 * await sourceCountsSince(lake, 'orders', Date.now() - 900_000); // { landed: 990, quarantined: 10, batches: 4 }
 */
export async function sourceCountsSince(lake: Lake, source: string, sinceMs: number): Promise<{ landed: number; quarantined: number; batches: number }> {
  const counts = { landed: 0, quarantined: 0, batches: 0 };
  const name = `bronze.${source}`;
  if (!(await lake.tables()).includes(name)) return counts;
  for (const commit of await (await lake.table(name)).history()) {
    if (commit.timestampMs < sinceMs) continue;
    const info = (commit.commitInfo as { lakeloop?: Record<string, unknown> } | undefined)?.lakeloop;
    if (!info || typeof info['landed'] !== 'number') continue;
    counts.batches += 1;
    counts.landed += Number(info['landed'] ?? 0);
    counts.quarantined += Number(info['quarantined'] ?? 0);
  }
  return counts;
}

function layerRank(layer: string): number {
  const index = LAYER_ORDER.indexOf(layer);
  return index < 0 ? LAYER_ORDER.length : index;
}
