/**
 * HTTP: the collector endpoints (`POST /ingest/<source>`, `GET /healthz`) in front of the
 * per-source micro-batchers, plus mounted read-only routes such as `/metrics` and
 * `/status` (`observeRoutes`), and the web console (`WebConsole`, `GET /`).
 */
export * from './collector.js';
export * from './routes.js';
export * from './observe-routes.js';
export * from './streaming-loop.js';
export * from './job-handlers.js';
export * from './console/index.js';
