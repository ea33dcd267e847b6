/**
 * HTTP: the collector endpoints (`POST /ingest/<source>`, `GET /healthz`) in front of the
 * per-source micro-batchers.
 */
export * from './collector.js';
