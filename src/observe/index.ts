/**
 * Observability (SPEC §8): the pipeline's counters and rates on a private Prometheus
 * registry (`Metrics`: `/metrics` text, `/status` JSON snapshot, the backlog alert);
 * OpenLineage events (`LineageEmitter` and its sinks), alert webhooks (`AlertManager`),
 * JSON logs (`JsonEventLog`), and the redaction of credentials from all three.
 */
export * from './rate-window.js';
export * from './metrics.js';
export * from './redact.js';
export * from './lineage-events.js';
export * from './lineage-sink.js';
export * from './lineage-emitter.js';
export * from './alerts.js';
export * from './event-log.js';
export * from './serve-observer.js';
export * from './source-completeness.js';
