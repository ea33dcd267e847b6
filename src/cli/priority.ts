import { getPriority, setPriority } from 'node:os';
import { UsageError } from '../core/index.js';

/** CPU priorities a batch verb can run at. */
export type CpuPriority = 'low' | 'normal';

/** The nice value of `low`: the kernel then gives a nice-0 process about ten times its CPU share. */
export const LOW_NICE = 10;

/**
 * Lowers this process's CPU priority for a batch verb (reconcile, replay), so that on a
 * shared machine `serve`'s streaming path keeps its freshness while a recompute runs: the
 * recompute gets the cores the service leaves idle. Call it before any DuckDB instance
 * exists: on Linux a thread's priority passes to the threads it starts (DuckDB's workers),
 * not to threads already running. Never raises a priority. Returns what it did.
 */
export function applyCpuPriority(priority: CpuPriority): string {
  if (priority === 'normal') return 'CPU priority unchanged';
  try {
    if (getPriority() < LOW_NICE) setPriority(LOW_NICE);
    return `low CPU priority (nice ${getPriority()})`;
  } catch (error) {
    return `CPU priority unchanged: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** `--priority`'s value (default `low`). */
export function parsePriority(text: string | undefined): CpuPriority {
  const priority = text ?? 'low';
  if (priority !== 'low' && priority !== 'normal') throw new UsageError(`--priority expects low or normal, got ${JSON.stringify(priority)}`);
  return priority;
}

/** The batch verbs that run at low CPU priority unless told `--priority normal`. */
const BATCH_VERBS = new Set(['reconcile', 'replay']);

/**
 * For `bin/lakeloop.js`, before the CLI's modules load: the priority a batch verb asks for
 * (`low` unless `--priority normal`), or undefined for any other verb, so that loading the
 * CLI does not compete with a running `serve` either. The verb is the first argument that
 * is not a global option (`--lake` and `--config` take a value).
 *
 * @example
 * if (batchVerbPriority(process.argv.slice(2)) === 'low') applyCpuPriority('low');
 */
export function batchVerbPriority(argv: readonly string[]): CpuPriority | undefined {
  let verb: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--lake' || arg === '--config') i++;
    else if (!arg.startsWith('-')) {
      verb = arg;
      break;
    }
  }
  if (verb === undefined || !BATCH_VERBS.has(verb)) return undefined;
  const at = argv.indexOf('--priority');
  const priority = at >= 0 ? argv[at + 1] : argv.find((a) => a.startsWith('--priority='))?.slice('--priority='.length);
  return priority === undefined || priority === 'low' ? 'low' : 'normal';
}
