import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LakeloopError } from '../core/index.js';
import type { ReconcileReport } from '../reconcile/index.js';
import type { RecomputeRequest } from '../server/index.js';

/** The CLI entry a child runs (bin/lakeloop.js of this package). */
const CLI = fileURLToPath(new URL('../../bin/lakeloop.js', import.meta.url));

/** How long a cancelled child gets to stop after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 10_000;

/** Where and how `serve` runs its scheduled reconcile and replay jobs. */
export interface RecomputeChildOptions {
  /** The project's folder (the child's working directory). */
  readonly cwd: string;
  /** The config file serve loaded, if any (`--config`). */
  readonly configFile?: string | undefined;
  /** The lake root serve uses (`--lake`), so that the child writes where serve reads. */
  readonly lakeRoot: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * `serve`'s recompute for the scheduler: a `lakeloop reconcile|replay --json` child process,
 * the separate circuit of SPEC §7 in the strongest sense. Its own process, DuckDB instance and
 * memory, and Linux's idle scheduling class (the batch verbs' default priority), which a
 * thread pool shared with the streaming path could not have: the nightly recompute takes only
 * the cores the stream leaves free (a job's `priority` param can say `low` or `normal`). A
 * cancelled job (timeout) stops the child (SIGTERM, then SIGKILL); a recompute killed at any
 * point publishes nothing partial. The report is the JSON the child prints last (also when it
 * exits 1 for held partitions). A replay without `from` and `to` (which the CLI requires) is
 * left to the caller (undefined). The child has a download cache of its own for S3 lakes
 * (unless the config names one), so neither process evicts a file the other is reading.
 */
export function recomputeInChild(
  options: RecomputeChildOptions,
): (request: RecomputeRequest, signal: AbortSignal, onProgress?: (line: string) => void) => Promise<ReconcileReport> | undefined {
  return (request, signal, onProgress) => {
    if (request.kind === 'replay' && (!request.from || !request.to)) return undefined;
    // With a progress listener the child says what it does (--verbose: per model and per chunk, one line each on stderr).
    const args = [CLI, ...(options.configFile ? ['--config', options.configFile] : []), '--lake', options.lakeRoot, ...(onProgress ? ['--verbose'] : []), request.kind, '--json'];
    if (request.from) args.push('--from', request.from);
    if (request.to) args.push('--to', request.to);
    if (request.window && request.kind === 'reconcile') args.push('--window', request.window);
    if (request.dryRun) args.push('--dry-run');
    if (request.priority) args.push('--priority', request.priority);
    if (request.models?.length) args.push('--models', ...request.models);
    if (request.exclude?.length) args.push('--exclude', ...request.exclude);
    const parent = options.env ?? process.env;
    const cache = parent['LAKELOOP_S3_CACHE_DIR'] ? `${parent['LAKELOOP_S3_CACHE_DIR']}-recompute` : join(tmpdir(), 'lakeloop-cache-recompute');
    const env = { ...parent, LAKELOOP_S3_CACHE_DIR: cache };
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      let partial = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-4_000);
        if (!onProgress) return;
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) onProgress(line.trim());
      });
      let killer: NodeJS.Timeout | undefined;
      const stop = (): void => {
        child.kill('SIGTERM');
        killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        killer.unref();
      };
      signal.addEventListener('abort', stop, { once: true });
      child.on('error', (error) => reject(new LakeloopError('RECOMPUTE', `Failed to start ${request.kind}: ${error.message}`, { cause: error })));
      child.on('close', (code, killedBy) => {
        signal.removeEventListener('abort', stop);
        if (killer) clearTimeout(killer);
        const report = lastJsonLine(stdout);
        if (report && (code === 0 || code === 1)) return resolve(report as ReconcileReport);
        const why = killedBy ? `was stopped (${killedBy})` : `exited ${code}`;
        reject(new LakeloopError('RECOMPUTE', `${request.kind} ${why}: ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`));
      });
    });
  };
}

function lastJsonLine(text: string): unknown {
  const line = text.trim().split('\n').at(-1);
  if (!line?.startsWith('{')) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
