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
