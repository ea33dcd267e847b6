import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRunning, sweepDeadProcessTemp } from '../../src/storage/index.js';
import { spawnTs } from '../helpers/child.js';
import { eventsContract, writeProject } from '../helpers/project.js';

/** What a kill -9 leaves behind (spool and write dirs in TMPDIR, a commit's temp file in `_delta_log`) is cleaned at the next start. */
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-sweep-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The id of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  expect(isRunning(child.pid ?? 0)).toBe(false);
  return child.pid ?? 0;
}

async function makeDir(parent: string, name: string, ageMs: number): Promise<void> {
  await mkdir(join(parent, name), { recursive: true });
  await writeFile(join(parent, name, 'batch-1.ndjson'), '{}\n');
  const at = new Date(Date.now() - ageMs);
  await utimes(join(parent, name), at, at);
}

describe('sweepDeadProcessTemp', () => {
  it('removes the temp dirs of ended processes only, and nothing that is not one', async () => {
    const tmp = join(dir, 'tmp');
    const dead = await deadPid();
    await makeDir(tmp, `lakeloop-ingest-p${dead}-abc123`, 60_000);
    await makeDir(tmp, `lakeloop-write-p${dead}-def456`, 60_000);
    await makeDir(tmp, `lakeloop-collector-p${dead}-young1`, 0);
    await makeDir(tmp, `lakeloop-ingest-p${process.pid}-alive1`, 60_000);
    await makeDir(tmp, `lakeloop-checkpoints-${dead}`, 60_000);
    await makeDir(tmp, 'lakeloop-cache', 60_000);
    await makeDir(tmp, `other-p${dead}-x`, 60_000);
    expect(await sweepDeadProcessTemp({ dir: tmp })).toBe(2);
    expect((await readdir(tmp)).sort()).toEqual(
      [`lakeloop-collector-p${dead}-young1`, `lakeloop-ingest-p${process.pid}-alive1`, `lakeloop-checkpoints-${dead}`, 'lakeloop-cache', `other-p${dead}-x`].sort(),
    );
  });

  it('after ingest is killed mid-commit, the next command removes its temp dirs and the commit temp file', async () => {
    const tmp = join(dir, 'kill-tmp');
    await mkdir(tmp);
    const project = await writeProject(join(dir, 'project'), { 'contracts/events.ts': eventsContract() });
    const input = join(dir, 'events.ndjson');
    await writeFile(input, `${Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: i, kind: 'view', ts: '2026-05-01T12:00:00Z' })).join('\n')}\n`);
    const lake = join(dir, 'lake');
    const killed = spawnTs('bin/lakeloop.js', ['--lake', lake, 'ingest', 'events', '--file', input], { TMPDIR: tmp, LAKELOOP_FAILPOINTS: 'storage.local.before-link' }, project);
    expect(await killed.exited).toBe('SIGKILL');
    const leftovers = (await readdir(tmp)).filter((name) => name.includes(`-p${killed.process.pid}-`));
    expect(leftovers.length).toBeGreaterThan(0);
    const log = join(lake, 'bronze', 'events', '_delta_log');
    expect((await readdir(log)).filter((name) => name.includes('.lakeloop-tmp-'))).toHaveLength(1);
    // Time passes: the sweep leaves directories younger than 10 s alone.
    const past = new Date(Date.now() - 60_000);
    for (const name of leftovers) await utimes(join(tmp, name), past, past);

    const status = spawnTs('bin/lakeloop.js', ['--lake', lake, 'status'], { TMPDIR: tmp }, project);
    expect(await status.exited).toBe(0);
    expect((await readdir(tmp)).filter((name) => name.includes(`-p${killed.process.pid}-`))).toEqual([]);
    // The listing that met it removed it (in the background: give it a moment).
    for (let i = 0; i < 50 && (await readdir(log)).some((name) => name.includes('.lakeloop-tmp-')); i++) await new Promise((r) => setTimeout(r, 100));
    expect((await readdir(log)).filter((name) => name.includes('.lakeloop-tmp-'))).toEqual([]);
  }, 60_000);
});
