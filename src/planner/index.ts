export * from './progress.js';
export * from './horizon.js';
export * from './upstream-changes.js';
export * from './change-classifier.js';
export * from './model-versions.js';
export * from './plan-builder.js';
