import { reportTotals, type ReconcileReport } from '../../reconcile/index.js';

/**
 * A reconcile or replay report in one line of the console's list: the window, partitions
 * per status, row and measure deltas, late rows and the held partitions.
 *
 * @example
 * reportSummary(report) // { id: 'reconcile-20261207T2001Z-ab12', window: { from: '2026-03-01', to: '2026-03-04' }, partitions: { match: 6, corrected: 2, held: 0, failed: 0 }, rows: { before: 120, after: 121, ... }, ... }
 */
export interface ReportSummary {
  readonly id: string;
  readonly kind: 'reconcile' | 'replay';
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly seconds: number;
  /** The days recomputed (the models' widest window when the report predates `window`); null: no model. */
  readonly window: { readonly from: string; readonly to: string } | null;
  /** Older partitions with deferred late rows the run included besides the window. */
  readonly latePartitions: number;
  readonly models: readonly string[];
  readonly partitions: { readonly match: number; readonly corrected: number; readonly held: number; readonly failed: number };
  /** Sums over every partition of every model. */
  readonly rows: { readonly before: number; readonly after: number; readonly added: number; readonly removed: number; readonly changed: number };
  readonly lateRows: number;
  /** `model.column` → sum after − sum before, over the partitions; zero deltas left out. */
  readonly measureDeltas: Readonly<Record<string, number>>;
  readonly held: readonly { readonly model: string; readonly partition: string; readonly note: string | null }[];
  /** Models whose corrections were published (their new version); none on a dry run. */
  readonly published: Readonly<Record<string, number>>;
}

/** The summary of `report` (see `ReportSummary`). */
export function reportSummary(report: ReconcileReport): ReportSummary {
  const rows = { before: 0, after: 0, added: 0, removed: 0, changed: 0 };
  const measureDeltas: Record<string, number> = {};
  const held: { model: string; partition: string; note: string | null }[] = [];
  const published: Record<string, number> = {};
  let lateRows = 0;
  for (const m of report.models) {
    if (m.published !== null) published[m.model] = m.published;
    for (const p of m.partitions) {
      rows.before += p.rowsBefore;
      rows.after += p.rowsAfter;
      rows.added += p.added;
      rows.removed += p.removed;
      rows.changed += p.changed;
      lateRows += p.lateRows;
      for (const [column, delta] of Object.entries(p.sumDeltas)) {
        const key = `${m.model}.${column}`;
        measureDeltas[key] = (measureDeltas[key] ?? 0) + delta;
      }
      if (p.status === 'held') held.push({ model: m.model, partition: p.partition, note: p.note ?? null });
    }
  }
  // Float sums: rounded to what a person compares (cents of cents), zero deltas dropped.
  for (const [key, value] of Object.entries(measureDeltas)) {
    const rounded = Math.round(value * 10_000) / 10_000;
    if (rounded === 0) delete measureDeltas[key];
    else measureDeltas[key] = rounded;
  }
  const froms = report.models.map((m) => m.from).sort();
  const tos = report.models.map((m) => m.to).sort();
  const window = report.window ? { from: report.window.from, to: report.window.to } : froms.length ? { from: froms[0] as string, to: tos.at(-1) as string } : null;
  return {
    id: report.id,
    kind: report.kind,
    dryRun: report.dryRun,
    startedAt: report.startedAt,
    seconds: report.seconds,
    window,
    latePartitions: report.window?.latePartitions.length ?? 0,
    models: report.models.map((m) => m.model),
    partitions: reportTotals(report),
    rows,
    lateRows,
    measureDeltas,
    held,
    published,
  };
}
