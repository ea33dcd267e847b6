/** Reconciliation and replay: full recalculation of a window from bronze, diffed, reported and published (SPEC §7). */
export { checkWindowOptions, reconcile, type ChunkTag, type ReconcileOptions } from './reconcile.js';
export { reconcileInChunks, DEFAULT_CHUNK_DAYS, type ChunkEvent, type ChunkedReconcileOptions } from './chunked-reconcile.js';
export { diffPartitions, measureColumns, type PartitionDiff } from './partition-diff.js';
export { describeChunks, listReports, renderMarkdown, reportTotals, REPORTS_PREFIX, writeReport, type ChunksSummary, type ModelReport, type ReconcileReport } from './report.js';
