/**
 * Data contracts: a source's zod schema with its key, event-time column, owner, version
 * and drift policy (`defineContract`, `loadContracts`); the bronze columns it maps to;
 * THE validation SQL that types records and splits bronze from quarantine in one DuckDB
 * pass (`contractSql`, `unknownFieldsSql`); the JSON Schema producers validate against.
 */
export * from './contract-columns.js';
export * from './define-contract.js';
export * from './contract-sql.js';
export * from './contract-json-schema.js';
export * from './load-contracts.js';
