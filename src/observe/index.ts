/**
 * Observability (SPEC §8): the pipeline's counters and rates on a private Prometheus
 * registry (`Metrics`: `/metrics` text, `/status` JSON snapshot, the backlog alert).
 */
export * from './rate-window.js';
export * from './metrics.js';
