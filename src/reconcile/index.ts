/** Reconciliation and replay: full recalculation of a window from bronze, diffed, reported and published (SPEC §7). */
export { reconcile, type ReconcileOptions } from './reconcile.js';
export { diffPartitions, measureColumns, type PartitionDiff } from './partition-diff.js';
export { listReports, renderMarkdown, reportTotals, REPORTS_PREFIX, writeReport, type ModelReport, type ReconcileReport } from './report.js';
