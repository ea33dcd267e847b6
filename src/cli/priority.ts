import { execFileSync } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { UsageError } from '../core/index.js';

/** CPU priorities a batch verb can run at. */
export type CpuPriority = 'idle' | 'low' | 'normal';

const PRIORITIES: readonly CpuPriority[] = ['idle', 'low', 'normal'];

/** The nice value of `low`: the kernel then gives a nice-0 process about ten times its CPU share. */
export const LOW_NICE = 10;

/** The nice value `idle` falls back to where the idle scheduling class cannot be set. */
export const IDLE_NICE = 19;

/**
 * Lowers this process's CPU priority for a batch verb (reconcile, replay), so that on a
 * shared machine `serve`'s streaming path keeps its freshness while a recompute runs: the
 * recompute gets the cores the service leaves idle.
 * - `idle`: Linux's SCHED_IDLE class for every thread (util-linux `chrt`), which runs only
 *   when no normal thread wants the core. A nice value is not enough: under a streaming load
 *   of short bursts (DuckDB's workers, the HTTP collector) every wake-up still waits for the
 *   running slice of a nice-10 process, and two nice-10 CPU burners doubled serve's freshness
 *   p95 (1.9×) where two SCHED_IDLE ones cost 1.1–1.4×. Falls back to nice 19 without `chrt`.
 * - `low`: nice 10.
 *
 * Call it before any DuckDB instance exists: on Linux a thread's scheduling class and nice
 * value pass to the threads it starts (DuckDB's workers). Never raises a priority. Returns
 * what it did.
 */
export function applyCpuPriority(priority: CpuPriority): string {
  if (priority === 'normal') return 'CPU priority unchanged';
  if (priority === 'idle') {
    try {
      execFileSync('chrt', ['--idle', '--all-tasks', '--pid', '0', String(process.pid)], { stdio: 'ignore' });
      return 'idle CPU priority (SCHED_IDLE)';
    } catch {
      return lowerNice(IDLE_NICE);
    }
  }
  return lowerNice(LOW_NICE);
}

function lowerNice(nice: number): string {
  try {
    if (getPriority() < nice) setPriority(nice);
    return `low CPU priority (nice ${getPriority()})`;
  } catch (error) {
    return `CPU priority unchanged: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** `--priority`'s value (default `idle`). */
export function parsePriority(text: string | undefined): CpuPriority {
  const priority = text ?? 'idle';
  if (!(PRIORITIES as readonly string[]).includes(priority)) throw new UsageError(`--priority expects idle, low or normal, got ${JSON.stringify(priority)}`);
  return priority as CpuPriority;
}

/** The batch verbs that run at idle CPU priority unless told otherwise. */
const BATCH_VERBS = new Set(['reconcile', 'replay']);

/**
 * For `bin/lakeloop.js`, before the CLI's modules load: the priority a batch verb asks for
 * (`idle` unless `--priority low|normal`; an unknown value is left for the CLI to refuse),
 * or undefined for any other verb, so that loading the CLI does not compete with a running
 * `serve` either. The verb is the first argument that is not a global option (`--lake` and
 * `--config` take a value).
 *
 * @example
 * const priority = batchVerbPriority(process.argv.slice(2));
 * if (priority) applyCpuPriority(priority);
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
  if (priority === undefined) return 'idle';
  return (PRIORITIES as readonly string[]).includes(priority) ? (priority as CpuPriority) : 'normal';
}
