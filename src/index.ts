/**
 * The `lakeloop` package entry: what a project imports (`import { defineConfig } from 'lakeloop'`).
 * The engine's internals are reached through the CLI, not through this module.
 */
export { defineConfig, loadConfig } from './config/index.js';
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
