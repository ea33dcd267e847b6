import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { BufferSink } from '../../src/cli/io.js';

/** What one in-process CLI run printed and returned. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Binary standard output (`query --format arrow`). */
  readonly stdoutBytes: Uint8Array;
  /** The last non-empty stdout line parsed as JSON (where `--json` output goes). */
  json<T = Record<string, unknown>>(): T;
}

/** Runs `main(argv)` in-process with captured output, in `cwd`. */
export async function cli(argv: readonly string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const stdout = new BufferSink();
  const stderr = new BufferSink();
  const code = await main(argv, { stdout, stderr, cwd, env });
  return {
    code,
    stdout: stdout.text(),
    stderr: stderr.text(),
    stdoutBytes: stdout.bytes(),
    json: <T>() => JSON.parse(stdout.lastLine()) as T,
  };
}

/** A fresh temp folder and its removal. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `lakeloop-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The verbs of SPEC §3, as `lakeloop --help` must list them. */
export const SPEC_VERBS = [
  'init',
  'serve',
  'ingest',
  'run',
  'reconcile',
  'replay',
  'query',
  'status',
  'inspect',
  'contracts export',
  'test',
  'lineage',
  'compact',
  'vacuum',
] as const;
