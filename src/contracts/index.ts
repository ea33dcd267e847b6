/**
 * Data contracts: a source's zod schema with its key, event-time column, owner, version
 * and drift policy (`defineContract`, `loadContracts`); the bronze columns it maps to
 * (`contractColumns`); THE validation SQL that types records and splits bronze from
 * quarantine in one DuckDB pass (`contractSql`, `unknownFieldsSql`); and the JSON Schema
 * handed to producers in other languages (`contractJsonSchema`).
 */
export {
  contractColumns,
  isDecimalType,
  type ColumnCheck,
  type ContractColumn,
  type ContractColumnType,
  type ContractLiteral,
  type DecimalColumnType,
} from './contract-columns.js';
export { decimal, parseDecimalType, SQL_TYPE_KEY } from './decimal.js';
export {
  DEFAULT_COMPLETENESS_WINDOW,
  DEFAULT_IDEMPOTENCY_WINDOW,
  DEFAULT_DRIFT,
  INTERNAL_PREFIX,
  RESERVED_COLUMNS,
  defineContract,
  isContract,
  validateContract,
  type BatchSettings,
  type FileBatchSettings,
  type Contract,
  type ContractDefinition,
  type DriftPolicy,
  type SourceCompletenessObjective,
} from './define-contract.js';
export {
  CDC_OPS,
  contractFastSql,
  contractInputSql,
  contractSql,
  FAST_PATH_MISS,
  unknownFieldsSql,
  type ContractSqlOptions,
  type ExtraColumn,
} from './contract-sql.js';
export { contractJsonSchema, type ContractSchemaMetadata } from './contract-json-schema.js';
export { CONTRACTS_DIR, loadContracts } from './load-contracts.js';
