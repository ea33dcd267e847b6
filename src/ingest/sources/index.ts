/**
 * Polled sources that land in bronze: a file drop (local folder or S3 prefix) and a
 * paginated API pull; both keep what they have processed in bronze's own log.
 */
export * from './poll-loop.js';
export * from './file-drop-source.js';
export * from './api-pull-source.js';
export * from './configured-sources.js';
