import { z } from 'zod';

/**
 * Cost budgets as the user writes them in `lakeloop.config.ts` (sizes such as `'10GB'`).
 *
 * @example
 * budgets: { maxBytesScannedPerRun: '10GB', mode: 'refuse', storageQuota: { bronze: '100GB', gold: '5GB' } }
 */
export interface BudgetsConfig {
  /** The most data-file bytes one `lakeloop run` may scan, estimated from the snapshots before it starts. */
  readonly maxBytesScannedPerRun?: string | number;
  /** `refuse` (default): a run over the budget reads nothing and exits 1; `warn`: it runs and says so. */
  readonly mode?: 'warn' | 'refuse';
  /** The live bytes each layer may hold; `status` shows usage against it, `run` and `ingest` warn when over. */
  readonly storageQuota?: { readonly bronze?: string | number; readonly silver?: string | number; readonly gold?: string | number };
  /**
   * Memory and threads per circuit (DuckDB instance): `streaming`, serve's loop (default:
   * `engine`'s settings, else 2 threads); `reconcile`, the separate circuit of reconcile,
   * replay and their jobs (default 1 thread, 1GB; `--threads` / `--memory-limit` win);
   * `collector`, where serve's collector lands its batches (default 1 thread, `engine.memoryLimit`).
   */
  readonly circuits?: { readonly streaming?: CircuitBudget; readonly reconcile?: CircuitBudget; readonly collector?: CircuitBudget };
}

/** One circuit's limits: DuckDB's `threads` and `memory_limit`. */
export interface CircuitBudget {
  readonly threads?: number;
  /** A size such as `'2GB'` or `'512MiB'`. */
  readonly memoryLimit?: string;
}

/** `BudgetsConfig` parsed: sizes in bytes, the mode filled in. */
export interface ResolvedBudgets {
  readonly maxBytesScannedPerRun?: number;
  readonly mode: 'warn' | 'refuse';
  readonly storageQuota: { readonly bronze?: number; readonly silver?: number; readonly gold?: number };
  readonly circuits: { readonly streaming: CircuitBudget; readonly reconcile: CircuitBudget; readonly collector?: CircuitBudget };
}

const UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

const SIZE_TEXT = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)$/i;

/**
 * Bytes of a size text: decimal units as DuckDB reads them (`10GB` = 10·10⁹), binary ones
 * with an `i` (`8MiB` = 8·2²⁰); undefined when it is not a size.
 *
 * @example
 * parseSizeBytes('1.5KB'); // 1500
 */
export function parseSizeBytes(text: string): number | undefined {
  const match = SIZE_TEXT.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (UNITS[(match[2] as string).toUpperCase()] as number));
}

/**
 * Bytes in the decimal units budgets are written in, one decimal (`formatSize(12_345_678_900)` = `'12.3 GB'`).
 *
 * @example
 * formatSize(1500); // '1.5 KB'
 */
export function formatSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const SIZE_ERROR = "expected a size such as '10GB', '500MB' or '8MiB', or a number of bytes";

const size = z.union([z.number({ error: SIZE_ERROR }).nonnegative({ error: SIZE_ERROR }), z.string({ error: SIZE_ERROR })], { error: SIZE_ERROR }).transform((value, ctx) => {
  const bytes = typeof value === 'number' ? value : parseSizeBytes(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: SIZE_ERROR, input: value });
    return z.NEVER;
  }
  return bytes;
});

/** The keys `budgets` and `budgets.storageQuota` accept. */
export const BUDGET_KEYS = Object.freeze({
  budgets: ['maxBytesScannedPerRun', 'mode', 'storageQuota', 'circuits'],
  'budgets.storageQuota': ['bronze', 'silver', 'gold'],
  'budgets.circuits': ['streaming', 'reconcile', 'collector'],
  'budgets.circuits.streaming': ['threads', 'memoryLimit'],
  'budgets.circuits.reconcile': ['threads', 'memoryLimit'],
  'budgets.circuits.collector': ['threads', 'memoryLimit'],
});

const THREADS_ERROR = 'expected a whole number of threads, 1 or more';
const MEMORY_ERROR = "expected a size such as '2GB' or '512MiB'";

/** The zod schema of `budgets` (`unknownKeys` gives the "did you mean" message of each strict object). */
export function budgetsSchema(unknownKeys: (path: string) => z.core.$ZodErrorMap) {
  return z
    .strictObject(
      {
        maxBytesScannedPerRun: size.optional(),
        mode: z.enum(['warn', 'refuse'], { error: "expected 'warn' or 'refuse'" }).default('refuse'),
        storageQuota: z
          .strictObject({ bronze: size.optional(), silver: size.optional(), gold: size.optional() }, { error: unknownKeys('budgets.storageQuota') })
          .default({}),
        circuits: z
          .strictObject(
            { streaming: circuit('budgets.circuits.streaming').default({}), reconcile: circuit('budgets.circuits.reconcile').default({}), collector: circuit('budgets.circuits.collector').optional() },
            { error: unknownKeys('budgets.circuits') },
          )
          .default({ streaming: {}, reconcile: {} }),
      },
      { error: unknownKeys('budgets') },
    )
    .default({ mode: 'refuse', storageQuota: {}, circuits: { streaming: {}, reconcile: {} } });

  function circuit(path: string) {
    return z.strictObject(
      {
        threads: z.int({ error: THREADS_ERROR }).positive({ error: THREADS_ERROR }).optional(),
        memoryLimit: z
          .string({ error: MEMORY_ERROR })
          .refine((text) => (parseSizeBytes(text) ?? 0) > 0, { error: MEMORY_ERROR })
          .optional(),
      },
      { error: unknownKeys(path) },
    );
  }
}
