import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../core/index.js';
import { isS3Url, parseS3Url } from '../storage/index.js';
import type { ResolvedBudgets } from './budgets.js';
import { configSchema, type EngineConfig, type S3Config } from './schema.js';

/** Where the lake lives: a local directory or an S3 bucket and key prefix. */
export type LakeLocation =
  | { readonly kind: 'local'; readonly path: string }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string };

/**
 * A validated config with defaults filled in and paths made absolute: what the rest of
 * lakeloop reads. `file` is undefined when no config file was found (all defaults).
 */
export interface ResolvedConfig {
  readonly file: string | undefined;
  /** The folder relative paths in the config resolve against (the config file's folder, else the cwd). */
  readonly projectDir: string;
  readonly lake: {
    /** An absolute directory, or `s3://bucket/prefix` without a trailing slash. */
    readonly root: string;
    readonly location: LakeLocation;
    /** S3 settings with `cacheDir` absolute; empty for a local lake. */
    readonly s3: S3Config;
  };
  readonly engine: EngineConfig;
  readonly sources: Readonly<Record<string, unknown>>;
  readonly models: Readonly<Record<string, unknown>>;
  readonly jobs: Readonly<Record<string, unknown>>;
  /** Cost budgets, sizes in bytes. */
  readonly budgets: ResolvedBudgets;
  /** `file` absolute; the `LAKELOOP_LINEAGE_*` variables are applied by the CLI. */
  readonly lineage: { readonly file?: string; readonly url?: string; readonly sampleIngest?: number; readonly namespace?: string };
  readonly alerts: { readonly webhooks: readonly { readonly url: string; readonly format: 'json' | 'slack'; readonly repeatMinutes?: number }[]; readonly quarantineRate?: number; readonly divergenceSeconds?: number };
}

/**
 * Validates a config value (a config module's default export) and resolves its paths
 * against `projectDir`; throws `ConfigError` naming `file` and every bad field.
 *
 * @example
 * const config = validateConfig({ engine: { threads: 2 } }, '/repo/lakeloop.config.ts', '/repo');
 * config.lake.root; // '/repo/lake'
 */
export function validateConfig(value: unknown, file: string | undefined, projectDir: string): ResolvedConfig {
  const result = configSchema.safeParse(value, { reportInput: true, error: defaultMessage });
  if (!result.success) {
    throw new ConfigError(file ?? '(defaults)', result.error.issues.map(toConfigIssue));
  }
  const parsed = result.data;
  const location = parseLakeRoot(parsed.lake.root, projectDir);
  const s3: S3Config = parsed.lake.s3 ?? {};
  // Frozen shallowly: sources/models/jobs may hold user objects that are not ours to freeze.
  return Object.freeze({
    file,
    projectDir,
    lake: Object.freeze({
      root: lakeRootText(location),
      location: Object.freeze(location),
      s3: Object.freeze(s3.cacheDir === undefined ? s3 : { ...s3, cacheDir: resolve(projectDir, s3.cacheDir) }),
    }),
    engine: Object.freeze(parsed.engine),
    sources: parsed.sources,
    models: parsed.models,
    jobs: parsed.jobs,
    budgets: Object.freeze(parsed.budgets),
    lineage: Object.freeze(parsed.lineage.file === undefined ? parsed.lineage : { ...parsed.lineage, file: resolve(projectDir, parsed.lineage.file) }),
    alerts: Object.freeze(parsed.alerts),
  });
}

/**
 * Parses a lake root (already validated): `s3://bucket/prefix` → bucket and prefix (no
 * slashes at either end); `file://` URLs and paths are local directories, relative ones
 * resolved against `baseDir`.
 *
 * @example
 * parseLakeRoot('s3://analytics/lake/', '/repo'); // { kind: 's3', bucket: 'analytics', prefix: 'lake' }
 * parseLakeRoot('./lake', '/repo');               // { kind: 'local', path: '/repo/lake' }
 */
export function parseLakeRoot(root: string, baseDir: string): LakeLocation {
  if (isS3Url(root)) return { kind: 's3', ...parseS3Url(root) };
  if (/^file:\/\//i.test(root)) return { kind: 'local', path: fileURLToPath(root) };
  return { kind: 'local', path: isAbsolute(root) ? resolve(root) : resolve(baseDir, root) };
}

/** The canonical text of a lake location: an absolute path or `s3://bucket[/prefix]`. */
export function lakeRootText(location: LakeLocation): string {
  if (location.kind === 'local') return location.path;
  return `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`;
}

/** The same config with another lake root (the CLI's `--lake`), resolved against `baseDir`. */
export function withLakeRoot(config: ResolvedConfig, root: string, baseDir: string): ResolvedConfig {
  const checked = configSchema.shape.lake.safeParse({ root }, { reportInput: true, error: defaultMessage });
  if (!checked.success) {
    throw new ConfigError('--lake', checked.error.issues.map((i) => ({ ...toConfigIssue(i), path: '' })));
  }
  const location = parseLakeRoot(root, baseDir);
  return Object.freeze({ ...config, lake: Object.freeze({ ...config.lake, root: lakeRootText(location), location: Object.freeze(location) }) });
}

function toConfigIssue(issue: z.core.$ZodIssue): ConfigIssue {
  const path = issue.path
    .map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : `${i === 0 ? '' : '.'}${String(segment)}`))
    .join('');
  let message = issue.message;
  if (issue.code !== 'unrecognized_keys' && message.startsWith('expected') && 'input' in issue) {
    message += `, got ${describeValue(issue.input)}`;
  }
  return { path, message };
}

/** Plain-words messages for zod's built-in checks (schema-level messages take precedence). */
function defaultMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${article(String(issue.expected))}`;
    case 'too_small':
      return `expected ${issue.origin === 'string' ? 'a non-empty string' : `a value >= ${String(issue.minimum)}`}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return undefined;
  }
}

function article(type: string): string {
  if (type === 'object' || type === 'array' || type === 'int') return type === 'int' ? 'an integer' : `an ${type}`;
  return `a ${type}`;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
