import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `lakeloop-<purpose>-p<pid>-…`: a temp dir that names the process that made it. */
const PROCESS_TEMP = /^lakeloop-[a-z]+(?:-[a-z]+)*-p(\d+)-/;
/** `….lakeloop-tmp-p<pid>-<hex>`: a store's temp file (`LocalObjectStore`). */
const TEMP_FILE = /\.lakeloop-tmp-p(\d+)-[0-9a-f]+$/;

/**
 * Makes a private temp directory (`<os tmpdir>/lakeloop-<purpose>-p<pid>-XXXXXX`) for
 * spool and write files. Its name carries this process's id, so when the process is
 * killed before it removes the directory, the next lakeloop process finds and removes it
 * (`sweepDeadProcessTemp`).
 *
 * @example
 * const dir = await processTempDir('ingest');
 */
export function processTempDir(purpose: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `lakeloop-${purpose}-p${process.pid}-`));
}

/**
 * Removes the temp directories (`processTempDir`) of lakeloop processes that no longer run:
 * what a kill -9 left behind. A directory whose process id is in use is kept (it may be a
 * live lakeloop, or a reused id: kept either way), and one younger than `minAgeMs` too (its
 * maker may have just started). Returns how many it removed.
 */
export async function sweepDeadProcessTemp(options: { readonly dir?: string; readonly minAgeMs?: number } = {}): Promise<number> {
  const dir = options.dir ?? tmpdir();
  const minAgeMs = options.minAgeMs ?? 10_000;
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const match = PROCESS_TEMP.exec(name);
    if (!match || isRunning(Number(match[1]))) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isDirectory() || Date.now() - info.mtimeMs < minAgeMs) continue;
    // Another user's directory, or one removed meanwhile: not ours to clean.
    if (await rm(path, { recursive: true, force: true }).then(() => true, () => false)) removed += 1;
  }
  return removed;
}

/** The process id a store's temp file name carries (`….lakeloop-tmp-p<pid>-<hex>`); undefined for older names, which carry none. */
export function tempOwnerPid(name: string): number | undefined {
  const match = TEMP_FILE.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Whether a process with this id exists (EPERM: it exists, another user's). */
export function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
