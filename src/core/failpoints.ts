/**
 * Named crash points for the kill -9 tests (SPEC §9). When the environment variable
 * `LAKELOOP_FAILPOINTS` lists a point's name (comma-separated), reaching it kills the
 * process with SIGKILL on the spot — no cleanup, no flush — exactly as `kill -9` would.
 * `name@N` kills at the Nth time the point is reached (the third commit of a run, say),
 * so a test can crash in the middle of a long job without racing a timer.
 * Unset (always, outside tests) it costs one size check.
 */
/** The points an environment variable arms (`name` or `name@N`, comma-separated): name → hits left. */
function armedBy(variable: string): Map<string, number> {
  const points = new Map<string, number>();
  for (const entry of (process.env[variable] ?? '').split(',')) {
    const [name = '', at = '1'] = entry.trim().split('@');
    if (name) points.set(name, Math.max(1, Number(at) || 1));
  }
  return points;
}

/** Whether this hit of `name` is the one `points` arms it for (then it is disarmed). */
function reached(points: Map<string, number>, name: string): boolean {
  if (points.size === 0) return false;
  const left = points.get(name);
  if (left === undefined) return false;
  if (left > 1) {
    points.set(name, left - 1);
    return false;
  }
  points.delete(name);
  return true;
}

const armed = armedBy('LAKELOOP_FAILPOINTS');
const stops = armedBy('LAKELOOP_STOPPOINTS');

/** The crash points the engine defines, in the order a commit passes them. */
export type FailpointName =
  | 'table.after-data-files'
  | 'table.before-log-put'
  | 'storage.local.before-link'
  | 'table.after-log-put'
  | 'table.checkpoint.after-parquet'
  | 'ingest.after-quarantine';

/**
 * Freezes the process here with SIGSTOP when `LAKELOOP_STOPPOINTS` lists `name` (same
 * `name@N` syntax as `LAKELOOP_FAILPOINTS`), once: a test sees the process stopped (state
 * `T` in `/proc/<pid>/stat`), makes other processes act while it is frozen at exactly this
 * point, then sends SIGCONT — a race made deterministic without a timer.
 */
export function stoppoint(name: FailpointName): void {
  if (reached(stops, name)) process.kill(process.pid, 'SIGSTOP');
}

/** Dies here with SIGKILL when `name` is armed and this is the hit it is armed for. */
export function failpoint(name: FailpointName): void {
  if (reached(armed, name)) process.kill(process.pid, 'SIGKILL');
}
