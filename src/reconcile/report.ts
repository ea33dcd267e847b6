import type { EngineLimits } from '../engine/index.js';
import type { ObjectStore } from '../storage/index.js';
import type { DataTestResult } from '../runner/index.js';
import type { PartitionDiff } from './partition-diff.js';

/** One model's part of a reconciliation report. */
export interface ModelReport {
  readonly model: string;
  readonly kind: string;
  /** The window recomputed (days, inclusive). */
  readonly from: string;
  readonly to: string;
  /** The table's version before; the version published (null: nothing published). */
  readonly version: number | null;
  readonly published: number | null;
  readonly partitions: readonly PartitionDiff[];
  readonly tests: readonly DataTestResult[];
  readonly seconds?: number;
}

/** What a reconcile or replay run did (SPEC §7), as written to `_lakeloop/reports/<id>.json`. */
export interface ReconcileReport {
  readonly id: string;
  readonly kind: 'reconcile' | 'replay';
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly seconds: number;
  readonly models: readonly ModelReport[];
  /** The days recomputed (over all models), and the older partitions with deferred late rows included besides (absent in older reports). */
  readonly window?: { readonly from: string; readonly to: string; readonly latePartitions: readonly string[] };
  /** A chunked run (absent: one shot): its chunks, and those a resumed run found published and skipped. */
  readonly chunks?: ChunksSummary;
  /** The separate circuit's limits as DuckDB applied them (`budgets.circuits.reconcile`, `--threads`, `--memory-limit`; absent in older reports). */
  readonly circuit?: EngineLimits;
}

/** How a chunked reconcile ran (see `reconcileInChunks`). */
export interface ChunksSummary {
  /** The run's id, recorded in its commits (`commitInfo.lakeloop.chunk.run`). */
  readonly run: string;
  readonly days: number;
  readonly count: number;
  /** Chunks (1-based) already published by an earlier, interrupted run of the same command. */
  readonly skipped: readonly number[];
}

export const REPORTS_PREFIX = '_lakeloop/reports/';

/** Writes the report as JSON and Markdown under `_lakeloop/reports/`. */
export async function writeReport(store: ObjectStore, report: ReconcileReport): Promise<void> {
  await store.put(`${REPORTS_PREFIX}${report.id}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await store.put(`${REPORTS_PREFIX}${report.id}.md`, renderMarkdown(report));
}

/** The newest reports first (at most `limit`). */
export async function listReports(store: ObjectStore, limit = 10): Promise<ReconcileReport[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.list(REPORTS_PREFIX, token ? { continuationToken: token } : {});
    for (const object of page.objects) if (object.key.endsWith('.json')) keys.push(object.key);
    token = page.continuationToken;
  } while (token);
  keys.sort((a, b) => stamp(b).localeCompare(stamp(a)));
  // Names tell the second; reports of the same second as the last one kept are all read, and startedAt (ms) orders them.
  const boundary = keys.length > limit ? stamp(keys[limit - 1] as string) : '';
  const candidates = keys.filter((key, i) => i < limit || stamp(key) === boundary);
  const reports: ReconcileReport[] = [];
  for (const key of candidates) {
    const body = await store.getIfExists(key);
    if (body) reports.push(JSON.parse(body.toString('utf8')) as ReconcileReport);
  }
  return reports.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.id.localeCompare(a.id)).slice(0, limit);
}

/** `reconcile-20260102T020000Z-ab12cd34.json` → `20260102T020000Z` (reports of both kinds sort by time). */
function stamp(key: string): string {
  return /-(\d{8}T\d{6}Z)-/.exec(key)?.[1] ?? '';
}

/** Counts of partitions per status over the whole report. */
export function reportTotals(report: ReconcileReport): Record<PartitionDiff['status'], number> {
  const totals = { match: 0, corrected: 0, held: 0, failed: 0 };
  for (const m of report.models) for (const p of m.partitions) totals[p.status] += 1;
  return totals;
}

/** The report as a Markdown document: a summary line, then one table per model listing the partitions that are not `match`. */
export function renderMarkdown(report: ReconcileReport): string {
  const totals = reportTotals(report);
  const lines = [
    `# ${report.kind === 'reconcile' ? 'Reconciliation' : 'Replay'} ${report.id}${report.dryRun ? ' (dry run: nothing published)' : ''}`,
    '',
    `Started ${report.startedAt}, ${report.seconds.toFixed(1)} s. Partitions: ${totals.match} match, ${totals.corrected} corrected, ${totals.held} held, ${totals.failed} failed.`,
    '',
  ];
  if (report.chunks) lines.push(`${describeChunks(report.chunks)}.`, '');
  for (const m of report.models) {
    const changed = m.partitions.filter((p) => p.status !== 'match');
    lines.push(`## ${m.model} (${m.kind}), ${m.from} → ${m.to}`, '');
    lines.push(m.published === null ? 'Nothing published.' : `Published as version ${m.published}.`, '');
    if (changed.length === 0) {
      lines.push(`All ${m.partitions.length} partitions match.`, '');
      continue;
    }
    lines.push('| partition | status | rows before → after | added | removed | changed | sum deltas of measures | late rows | max lateness | note |', '|---|---|---|---|---|---|---|---|---|---|');
    for (const p of changed) {
      const deltas = Object.entries(p.sumDeltas).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v > 0 ? '+' : ''}${v}`).join(', ') || '—';
      const lateness = p.maxLatenessSeconds === null ? '—' : `${(p.maxLatenessSeconds / 3600).toFixed(1)} h`;
      lines.push(`| ${p.partition} | ${p.status} | ${p.rowsBefore} → ${p.rowsAfter} | ${p.added} | ${p.removed} | ${p.changed} | ${deltas} | ${p.lateRows} | ${lateness} | ${p.note ?? ''} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** `ran in 7 chunks of 60 days; resumed: chunks 1–4 were already published and skipped`. */
export function describeChunks(chunks: ChunksSummary): string {
  const skipped = chunks.skipped.length === 0 ? '' : `; resumed: ${chunks.skipped.length === 1 ? `chunk ${chunks.skipped[0]} was` : `chunks ${chunks.skipped[0]}–${chunks.skipped.at(-1)} were`} already published and skipped`;
  return `ran in ${chunks.count} chunks of ${chunks.days} days (run ${chunks.run})${skipped}`;
}
