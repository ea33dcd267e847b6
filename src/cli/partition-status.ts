import type { Engine } from '../engine/index.js';
import type { Model } from '../models/index.js';
import type { PartitionStatusRecord } from '../query/index.js';
import { listReports, REPORTS_PREFIX } from '../reconcile/index.js';
import { evaluateCompleteness, partitionStatus, statusCounts, STATUS_PRECEDENCE, type CompletenessEvaluation, type PartitionStatus, type PartitionStatusKind, type TablePartitionStatus } from '../state/index.js';
import type { Lake } from '../table/index.js';
import { formatLateness, plural } from './human.js';
import type { TextSink } from './io.js';

/** How many of the newest reconcile/replay reports tell held and verified partitions. */
const RECENT_REPORTS = 10;

/**
 * Every model table's partition status (`state/partitionStatus`) with the held and verified
 * partitions of the newest reconcile and replay reports (under `_lakeloop/reports/`).
 */
export async function lakePartitionStatus(lake: Lake, engine: Engine, models: readonly Model[], tables?: readonly string[]): Promise<TablePartitionStatus[]> {
  const reconciles = await listReports(lake.store, RECENT_REPORTS);
  return partitionStatus(lake, models, { engine, reconciles, ...(tables ? { tables } : {}) });
}

/** `status --partitions --json`: `{ tables: { 'gold.daily': [{ partition, status, pendingLateRows, version, ... }] }, models: { 'gold.daily': { version, pendingChange, staleFrom, counts } } }`. */
export function partitionStatusJson(status: readonly TablePartitionStatus[]): {
  tables: Record<string, readonly PartitionStatus[]>;
  models: Record<string, { version: number; pendingChange: string | null; staleFrom: readonly string[]; counts: Partial<Record<PartitionStatusKind, number>> }>;
} {
  return {
    tables: Object.fromEntries(status.map((t) => [t.table, t.partitions])),
    models: Object.fromEntries(status.map((t) => [t.table, { version: t.version, pendingChange: t.pendingChange, staleFrom: t.staleFrom, counts: statusCounts(t.partitions) }])),
  };
}

/** Per status, in precedence order: `2 stale_code, 1 pending_late`. */
export function describeCounts(partitions: readonly PartitionStatus[], options: { exact?: boolean } = {}): string {
  const counts = statusCounts(partitions);
  return STATUS_PRECEDENCE.filter((k) => counts[k] && (options.exact !== false || k !== 'exact')).map((k) => `${counts[k]} ${k}`).join(', ');
}

/** What fixes a table's non-exact partitions: `lakeloop apply` for code, `lakeloop reconcile` for the rest. */
function remedy(t: TablePartitionStatus): string {
  const kinds = new Set(t.partitions.map((p) => p.status));
  const verbs: string[] = [];
  if (kinds.has('stale_code') || t.pendingChange) verbs.push('lakeloop plan');
  if (['held', 'pending_late', 'missing', 'provisional'].some((k) => kinds.has(k as PartitionStatusKind))) verbs.push('lakeloop reconcile');
  return verbs.join(' / ');
}

/** One line per model table for `lakeloop status`: its non-exact partitions and any pending plan, or that all are exact. */
export function writePartitionSummary(status: readonly TablePartitionStatus[], out: TextSink): void {
  if (status.length === 0) return;
  out.write('\npartitions:\n');
  for (const t of status) {
    const counts = describeCounts(t.partitions, { exact: false });
    const plan = t.pendingChange && t.pendingChange !== 'unchanged' ? `plan pending (${t.pendingChange})` : '';
    const what = [counts, plan].filter(Boolean).join('; ');
    const fix = remedy(t);
    const exact = t.partitions.length ? `${plural(t.partitions.length, 'partition')} exact` : 'no partitions';
    out.write(what ? `  ${t.table}: ${what}${fix ? ` — ${fix}` : ''}\n` : `  ${t.table}: ${exact}\n`);
  }
}

/** `lakeloop status --partitions`: per table the counts per status, then its non-exact partitions (at most `limit`). */
export function writePartitionStatus(status: readonly TablePartitionStatus[], out: TextSink, limit = 20): void {
  if (status.length === 0) out.write('no model tables\n');
  for (const t of status) {
    const plan = t.pendingChange && t.pendingChange !== 'unchanged' ? `, plan pending (${t.pendingChange})` : '';
    const from = t.staleFrom.length ? `, stale from ${t.staleFrom.join(', ')}` : '';
    out.write(`${t.table} (version ${t.version}${plan}${from}): ${describeCounts(t.partitions) || 'no partitions'}\n`);
    const shown = t.partitions.filter((p) => p.status !== 'exact');
    for (const p of shown.slice(0, limit)) {
      const late = p.pendingLateRows ? ` ${plural(p.pendingLateRows, 'late row')}${p.maxLatenessSeconds === null ? '' : `, up to ${formatLateness(p.maxLatenessSeconds)} late`}` : '';
      const written = p.version === null ? '' : ` (version ${p.version}, ${p.mode})`;
      out.write(`  ${p.partition || '(table)'}  ${p.statuses.join(', ')}${late}${written}\n`);
    }
    if (shown.length > limit) out.write(`  … ${shown.length - limit} more (--json lists every partition)\n`);
  }
}

/** The catalog's `lakeloop.partition_status` rows of `status`. */
export function partitionStatusRecords(status: readonly TablePartitionStatus[]): PartitionStatusRecord[] {
  return status.flatMap((t) =>
    t.partitions.map((p) => ({
      table_name: t.table,
      partition: p.partition,
      status: p.status,
      statuses: p.statuses.join(','),
      pending_late_rows: p.pendingLateRows,
      max_lateness_seconds: p.maxLatenessSeconds,
      version: p.version,
      mode: p.mode,
      fingerprint: p.fingerprint,
      last_exact_version: p.lastExactVersion,
    })),
  );
}

/** A table's line in `serve`'s `/status`: partitions per status and the pending change of its model file. */
export interface PartitionSummary {
  /** The table version the status was computed at. */
  readonly version: number;
  readonly counts: Partial<Record<PartitionStatusKind, number>>;
  readonly pendingChange: string | null;
}

/**
 * Keeps the model tables' partition status of a long-running process (`serve`): `refresh`
 * computes it in the background, for `/status`, the catalog and the console, which must
 * answer without reading the lake. It is cached per table version: a refresh whose model
 * tables, their upstream tables and the reports folder are where the last one saw them
 * returns the last result (a few log listings, no commit or report read). One computation
 * at a time; a request made while one runs is served by one more run after it, so a commit
 * that lands mid-computation is never missed.
 *
 * @example
 * const tracker = new PartitionStatusTracker(lake, engine, dag.models);
 * tracker.request(); // after commits
 * tracker.summary() // { 'gold.daily': { version: 12, counts: { exact: 30, provisional: 1 }, pendingChange: null } }
 */
export class PartitionStatusTracker {
  private latest: Record<string, PartitionSummary> | undefined;
  private latestDetails: { readonly computedAt: string; readonly tables: readonly TablePartitionStatus[] } | undefined;
  private latestRecords: { readonly key: string; readonly records: PartitionStatusRecord[] } | undefined;
  private heldNow: { table: string; partitions: string[] }[] | undefined;
  private completenessNow: CompletenessEvaluation[] | undefined;
  private running: Promise<PartitionStatusRecord[]> | undefined;
  private queued: Promise<PartitionStatusRecord[]> | undefined;

  constructor(
    private readonly lake: Lake,
    private readonly engine: Engine,
    private readonly models: readonly Model[],
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Computes the status (or, when one computation is under way, once more after it) and returns the catalog's rows. */
  refresh(): Promise<PartitionStatusRecord[]> {
    if (this.running) {
      this.queued ??= this.running
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.refresh();
        });
      return this.queued;
    }
    const running = this.compute().finally(() => {
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
    return running;
  }

  private async compute(): Promise<PartitionStatusRecord[]> {
    const key = await this.versionKey();
    if (this.latestRecords?.key === key) return this.latestRecords.records;
    const status = await lakePartitionStatus(this.lake, this.engine, this.models);
    this.latest = Object.fromEntries(status.map((t) => [t.table, { version: t.version, counts: statusCounts(t.partitions), pendingChange: t.pendingChange }]));
    this.latestDetails = { computedAt: new Date().toISOString(), tables: status };
    this.heldNow = status.map((t) => ({ table: t.table, partitions: t.partitions.filter((p) => p.statuses.includes('held')).map((p) => p.partition) }));
    const objectives = new Map(this.models.flatMap((m) => (m.header.completeness ? [[m.name, m.header.completeness] as const] : [])));
    this.completenessNow = status.flatMap((t) => {
      const objective = objectives.get(t.table);
      return objective ? [evaluateCompleteness(t, objective)] : [];
    });
    const records = partitionStatusRecords(status);
    this.latestRecords = { key, records };
    return records;
  }

  /** The versions of the model tables and their upstream tables, and the reports folder's newest key and count. */
  private async versionKey(): Promise<string> {
    const existing = new Set(await this.lake.tables());
    const names = [...new Set(this.models.flatMap((m) => [m.name, ...m.upstream]))].filter((n) => existing.has(n)).sort();
    const parts: string[] = [];
    for (const name of names) parts.push(`${name}@${(await (await this.lake.table(name)).snapshot()).version}`);
    let count = 0;
    let newest = '';
    let token: string | undefined;
    do {
      const page = await this.lake.store.list(REPORTS_PREFIX, token ? { continuationToken: token } : {});
      for (const object of page.objects) {
        count += 1;
        if (object.key > newest) newest = object.key;
      }
      token = page.continuationToken;
    } while (token);
    return `${parts.join(',')}|${count}:${newest}`;
  }

  /** Refreshes in the background; a failure goes to `onError`. */
  request(): void {
    this.refresh().catch(this.onError);
  }

  /** Every model table with its held partitions (none: `[]`), as of the last refresh (undefined before the first). */
  held(): readonly { readonly table: string; readonly partitions: readonly string[] }[] | undefined {
    return this.heldNow;
  }

  /** The completeness SLOs of the models that have one, as of the last refresh (undefined before the first). */
  completeness(): readonly CompletenessEvaluation[] | undefined {
    return this.completenessNow;
  }

  /** The counts of the last refresh (undefined before the first). */
  summary(): Readonly<Record<string, PartitionSummary>> | undefined {
    return this.latest;
  }

  /** Every partition of the last refresh (the console's drill-down), and when it was computed. */
  details(): { readonly computedAt: string; readonly tables: readonly TablePartitionStatus[] } | undefined {
    return this.latestDetails;
  }
}
