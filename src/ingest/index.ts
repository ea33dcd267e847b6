/**
 * Ingestion to bronze: raw records loaded into DuckDB (`loadRawRecords`), checked against
 * the source's contract and landed exactly once per batch (`landBatch`: quarantine +
 * bronze commits under the batch's txn), and whole files or stdin cut into batches
 * (`ingestFile`).
 */
export * from './raw-records.js';
export * from './bronze-writer.js';
export * from './file-ingest.js';
export * from './micro-batcher.js';
export * from './request-body.js';
export * from './sources/index.js';
export * from './duplicate-counter.js';
