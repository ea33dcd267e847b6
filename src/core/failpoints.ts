/**
 * Named crash points for the kill -9 tests (SPEC §9). When the environment variable
 * `LAKELOOP_FAILPOINTS` lists a point's name (comma-separated), reaching it kills the
 * process with SIGKILL on the spot — no cleanup, no flush — exactly as `kill -9` would.
 * Unset (always, outside tests) it costs one Set lookup.
 */
const armed = new Set(
  (process.env['LAKELOOP_FAILPOINTS'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** The crash points the engine defines, in the order a commit passes them. */
export type FailpointName =
  | 'table.after-data-files'
  | 'table.before-log-put'
  | 'storage.local.before-link'
  | 'table.after-log-put'
  | 'table.checkpoint.after-parquet'
  | 'ingest.after-quarantine';

/** Dies here with SIGKILL when `name` is armed. */
export function failpoint(name: FailpointName): void {
  if (armed.size > 0 && armed.has(name)) process.kill(process.pid, 'SIGKILL');
}
