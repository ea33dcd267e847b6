export * from './errors.js';
export * from './clock.js';
export * from './backoff.js';
export * from './failpoints.js';
export * from './duration.js';
export * from './escape-control.js';
export * from './edit-distance.js';
export * from './did-you-mean.js';
