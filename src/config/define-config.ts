import type { LakeloopConfig } from './schema.js';

/**
 * Types a project's config (editors flag unknown keys and wrong types); returns it
 * unchanged, since validation happens when lakeloop loads the file.
 *
 * @example
 * // lakeloop.config.ts
 * import { defineConfig } from 'lakeloop';
 * export default defineConfig({ lake: { root: './lake' }, engine: { threads: 4 } });
 */
export function defineConfig(config: LakeloopConfig): LakeloopConfig {
  return config;
}
