/**
 * State derived from the tables' logs (STYLE.md): which code built each partition of a
 * model table and whether it is exact — read by `status`, the catalog and `serve`, never
 * kept in a second store that could drift.
 */
export * from './partition-status.js';
export * from './completeness.js';
