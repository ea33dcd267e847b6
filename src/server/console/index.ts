/**
 * The web console of `serve` (`GET /`): static page files in `static/` (served as they are,
 * no build step), the JSON/SSE API they read, the controls, and the decision log.
 */
export * from './decision-log.js';
export * from './web-console.js';
export * from './lineage-graph.js';
export * from './console-reconcile.js';
export * from './contract-checklist.js';
export * from './report-summary.js';
export * from './partitions-behind.js';
