/**
 * Named crash points for the kill -9 tests (SPEC §9). When the environment variable
 * `LAKELOOP_FAILPOINTS` lists a point's name (comma-separated), reaching it kills the
 * process with SIGKILL on the spot — no cleanup, no flush — exactly as `kill -9` would.
 * `name@N` kills at the Nth time the point is reached (the third commit of a run, say),
 * so a test can crash in the middle of a long job without racing a timer.
 * Unset (always, outside tests) it costs one size check.
 */
const armed = new Map<string, number>();
for (const entry of (process.env['LAKELOOP_FAILPOINTS'] ?? '').split(',')) {
  const [name = '', at = '1'] = entry.trim().split('@');
  if (name) armed.set(name, Math.max(1, Number(at) || 1));
}

/** The crash points the engine defines, in the order a commit passes them. */
export type FailpointName =
  | 'table.after-data-files'
  | 'table.before-log-put'
  | 'storage.local.before-link'
  | 'table.after-log-put'
  | 'table.checkpoint.after-parquet'
  | 'ingest.after-quarantine';

const stops = new Map<string, number>();
for (const entry of (process.env['LAKELOOP_STOPPOINTS'] ?? '').split(',')) {
  const [name = '', at = '1'] = entry.trim().split('@');
  if (name) stops.set(name, Math.max(1, Number(at) || 1));
}

/**
 * Freezes the process here with SIGSTOP when `LAKELOOP_STOPPOINTS` lists `name` (same
 * `name@N` syntax as `LAKELOOP_FAILPOINTS`), once: a test sees the process stopped (state
 * `T` in `/proc/<pid>/stat`), makes other processes act while it is frozen at exactly this
 * point, then sends SIGCONT — a race made deterministic without a timer.
 */
export function stoppoint(name: FailpointName): void {
  if (stops.size === 0) return;
  const left = stops.get(name);
  if (left === undefined) return;
  if (left <= 1) {
    stops.delete(name);
    process.kill(process.pid, 'SIGSTOP');
  } else stops.set(name, left - 1);
}

/** Dies here with SIGKILL when `name` is armed and this is the hit it is armed for. */
export function failpoint(name: FailpointName): void {
  if (armed.size === 0) return;
  const left = armed.get(name);
  if (left === undefined) return;
  if (left <= 1) process.kill(process.pid, 'SIGKILL');
  else armed.set(name, left - 1);
}
