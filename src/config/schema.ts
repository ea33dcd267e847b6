import { z } from 'zod';
import { editDistance } from '../core/index.js';
import { isS3Url, parseS3Url } from '../storage/index.js';
import { BUDGET_KEYS, budgetsSchema, type BudgetsConfig } from './budgets.js';

/**
 * S3 settings used when `lake.root` is `s3://bucket/prefix`. Credentials are never part of
 * the config: they come from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_PROFILE`, ...) so they are never written into a repository or the lake.
 */
export interface S3Config {
  /** e.g. `http://127.0.0.1:9000` for MinIO; default: AWS S3. */
  readonly endpoint?: string;
  /** e.g. `eu-west-1`; default: `AWS_REGION`, else `us-east-1`. */
  readonly region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), as MinIO and s3rver need. */
  readonly forcePathStyle?: boolean;
  /** Where downloaded Parquet files are cached for DuckDB; relative to the config file. */
  readonly cacheDir?: string;
  /** The cache's size cap in bytes. */
  readonly cacheMaxBytes?: number;
}

/** Resource limits of the DuckDB engine. */
export interface EngineConfig {
  /** Worker threads; default: all cores. */
  readonly threads?: number;
  /** e.g. `'2GB'`; default: DuckDB's (80% of RAM). */
  readonly memoryLimit?: string;
}

/**
 * A project's `lakeloop.config.ts`, as the user writes it (every field optional).
 *
 * @example
 * export default defineConfig({
 *   lake: { root: 's3://analytics/lake', s3: { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true } },
 *   engine: { threads: 4, memoryLimit: '2GB' },
 * });
 */
export interface LakeloopConfig {
  readonly lake?: {
    /** A local directory (relative to the config file) or `s3://bucket/prefix`; default `./lake`. */
    readonly root?: string;
    readonly s3?: S3Config;
  };
  readonly engine?: EngineConfig;
  /** Source definitions (ingestion); validated by the ingest layer. */
  readonly sources?: Readonly<Record<string, unknown>>;
  /** Per-model settings; validated by the models layer. */
  readonly models?: Readonly<Record<string, unknown>>;
  /** Scheduled jobs; validated by the scheduler. */
  readonly jobs?: Readonly<Record<string, unknown>>;
  /** Cost budgets: bytes a run may scan, storage per layer. */
  readonly budgets?: BudgetsConfig;
  /** OpenLineage events (also `LAKELOOP_LINEAGE_FILE`, `LAKELOOP_LINEAGE_URL`). */
  readonly lineage?: LineageConfig;
  /** Alert webhooks of `serve`. */
  readonly alerts?: AlertsConfig;
}

/**
 * Where OpenLineage RunEvents go: an NDJSON file and/or an HTTP endpoint (Marquez:
 * `http://host:5000/api/v1/lineage`).
 *
 * @example
 * lineage: { file: './lineage.ndjson', url: 'http://127.0.0.1:5000/api/v1/lineage', sampleIngest: 0.1 }
 */
export interface LineageConfig {
  /** Relative to the config file. */
  readonly file?: string;
  readonly url?: string;
  /** The share of ingest batches that get events (0–1); default 1. */
  readonly sampleIngest?: number;
  /** The jobs' namespace; default `lakeloop`. */
  readonly namespace?: string;
}

/**
 * `serve`'s alert webhooks (freshness SLOs, failed runs and jobs, quarantine spikes).
 *
 * @example
 * alerts: { webhooks: [{ url: 'https://hooks.slack.com/services/...', format: 'slack', repeatMinutes: 30 }] }
 */
export interface AlertsConfig {
  readonly webhooks?: readonly { readonly url: string; readonly format?: 'json' | 'slack'; readonly repeatMinutes?: number }[];
  /** The share of quarantined records (over the last minute) that raises an alert; default 0.5. */
  readonly quarantineRate?: number;
  /**
   * Rate divergence (a growing backlog): a source whose waiting records would take longer
   * than this many seconds to land at its ingest rate, or that lands nothing this long while
   * records wait, raises the `divergence` alert (and the console's indicator); default 10.
   */
  readonly divergenceSeconds?: number;
}

const POSITIVE_INT = 'expected a positive integer';
const SIZE = /^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)$|^\d+(\.\d+)?%$/i;

const positiveInt = z.int({ error: POSITIVE_INT }).positive({ error: POSITIVE_INT });

const lakeRoot = z
  .string({ error: 'expected a directory path or s3://bucket/prefix' })
  .min(1, { error: 'expected a directory path or s3://bucket/prefix, got an empty string' })
  .refine((root) => (isS3Url(root) ? isValidS3Url(root) : !/^[a-z][a-z0-9+.-]*:\/\//i.test(root) || /^file:\/\//i.test(root)), {
    error: 'expected a local directory or s3://bucket[/prefix] (bucket: 3-63 lowercase letters, digits, dots, hyphens)',
  });

function isValidS3Url(root: string): boolean {
  try {
    parseS3Url(root);
    return true;
  } catch {
    return false;
  }
}

const s3Schema = z.strictObject(
  {
    endpoint: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://127.0.0.1:9000' })
      .optional(),
    region: z.string().min(1).optional(),
    forcePathStyle: z.boolean().optional(),
    cacheDir: z.string().min(1).optional(),
    cacheMaxBytes: positiveInt.optional(),
  },
  { error: unknownKeysMessage('lake.s3', 'credentials are read from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE), never from the config') },
);

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

const openRecord = z.record(z.string(), z.unknown(), { error: 'expected an object keyed by name' });

/** The zod schema of `lakeloop.config.ts`'s default export; strict about unknown keys. */
export const configSchema = z.strictObject(
  {
    lake: z
      .strictObject({ root: lakeRoot.default('./lake'), s3: s3Schema.optional() }, { error: unknownKeysMessage('lake') })
      .default({ root: './lake' }),
    engine: z
      .strictObject(
        {
          threads: positiveInt.optional(),
          memoryLimit: z
            .string({ error: "expected a size such as '2GB' or '512MB'" })
            .regex(SIZE, { error: "expected a size such as '2GB', '512MB' or '50%'" })
            .optional(),
        },
        { error: unknownKeysMessage('engine') },
      )
      .default({}),
    sources: openRecord.default({}),
    models: openRecord.default({}),
    jobs: openRecord.default({}),
    budgets: budgetsSchema(unknownKeysMessage),
    lineage: z
      .strictObject(
        {
          file: z.string().min(1).optional(),
          url: httpUrl.optional(),
          sampleIngest: z.number().min(0).max(1, { error: 'expected a share from 0 to 1' }).optional(),
          namespace: z.string().min(1).optional(),
        },
        { error: unknownKeysMessage('lineage') },
      )
      .default({}),
    alerts: z
      .strictObject(
        {
          webhooks: z
            .array(
              z.strictObject(
                { url: httpUrl, format: z.enum(['json', 'slack']).default('json'), repeatMinutes: z.number().positive().optional() },
                { error: unknownKeysMessage('alerts.webhooks') },
              ),
            )
            .readonly()
            .default([]),
          quarantineRate: z.number().gt(0).max(1).optional(),
          divergenceSeconds: z.number({ error: 'expected a number of seconds' }).positive({ error: 'expected a positive number of seconds' }).max(86_400, { error: 'expected at most 86400 seconds (a day)' }).optional(),
        },
        { error: unknownKeysMessage('alerts') },
      )
      .default({ webhooks: [] }),
  },
  { error: unknownKeysMessage('') },
);

/** What the schema produces: defaults filled in, paths not yet resolved. */
export type ParsedConfig = z.output<typeof configSchema>;

// Compile-time check that the documented input type and the schema agree.
type Assignable<A, B> = A extends B ? true : false;
const inputMatches: Assignable<LakeloopConfig, z.input<typeof configSchema>> = true;
void inputMatches;

/** The keys each strict object accepts, for "did you mean" messages. */
export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  '': ['lake', 'engine', 'sources', 'models', 'jobs', 'budgets', 'lineage', 'alerts'],
  lineage: ['file', 'url', 'sampleIngest', 'namespace'],
  alerts: ['webhooks', 'quarantineRate', 'divergenceSeconds'],
  'alerts.webhooks': ['url', 'format', 'repeatMinutes'],
  lake: ['root', 's3'],
  'lake.s3': ['endpoint', 'region', 'forcePathStyle', 'cacheDir', 'cacheMaxBytes'],
  engine: ['threads', 'memoryLimit'],
  ...BUDGET_KEYS,
});

function unknownKeysMessage(path: string, extra?: string): z.core.$ZodErrorMap {
  return (issue) => {
    if (issue.code === 'unrecognized_keys') {
      const known = KNOWN_KEYS[path] ?? [];
      const names = issue.keys.map((k) => `'${k}'`).join(', ');
      const suggestions = issue.keys
        .map((k) => ({ k, near: nearest(k, known) }))
        .filter((s) => s.near !== undefined)
        .map((s) => ` (did you mean '${s.near}' instead of '${s.k}'?)`)
        .join('');
      const tail = extra === undefined ? '' : `; ${extra}`;
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${names}${suggestions}; expected one of: ${known.join(', ')}${tail}`;
    }
    if (issue.code === 'invalid_type') return 'expected an object';
    return undefined;
  };
}

/** The known key closest to `key` by edit distance, when it is close enough to be a typo. */
function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}
