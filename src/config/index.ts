/**
 * Project configuration: the `lakeloop.config.ts` schema (zod), `defineConfig` for
 * users, and `loadConfig`, which finds, imports and validates the file and resolves its
 * paths. Everything past this folder reads a `ResolvedConfig` and trusts it.
 */
export * from './schema.js';
export * from './budgets.js';
export * from './define-config.js';
export * from './validate-config.js';
export * from './load-config.js';
export * from './import-user-module.js';
export * from './zod-issue.js';
