export * from './progress.js';
export * from './horizon.js';
export * from './upstream-changes.js';
