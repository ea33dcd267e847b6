/**
 * The `lakeloop` package entry: what a project imports (`import { defineConfig } from 'lakeloop'`).
 * It loads only what a config file needs (no DuckDB, no AWS SDK), so loading a config stays
 * fast; the engine's internals are reached through the CLI.
 */
export { defineConfig } from './config/define-config.js';
export type { EngineConfig, LakeLocation, LakeloopConfig, ResolvedConfig, S3Config } from './config/index.js';
export {
  CommitConflict,
  ConfigError,
  LakeloopError,
  NotImplemented,
  SqlError,
  TableNotFound,
  UsageError,
  type ConfigIssue,
} from './core/index.js';
// Contracts: `import { defineContract, z } from 'lakeloop'`, so a project needs no zod of its own.
export { defineContract } from './contracts/define-contract.js';
export { decimal } from './contracts/decimal.js';
export type { Contract, ContractDefinition, DriftPolicy } from './contracts/define-contract.js';
export { z } from 'zod';
// Jobs: `import { defineJob } from 'lakeloop'` in `jobs/<name>.ts`.
export { defineJob } from './scheduler/define-job.js';
export { jobSkipped } from './scheduler/scheduler.js';
export type { Job, JobDefinition, JobKind, JobRunContext } from './scheduler/define-job.js';
