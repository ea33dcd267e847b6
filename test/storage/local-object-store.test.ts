import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/core/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';

const putLoop = fileURLToPath(new URL('./fixtures/put-loop.ts', import.meta.url));

/** Starts the put loop, waits until a write is half-done (a temp file exists) and kills it with SIGKILL. */
async function killMidPut(root: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', putLoop, root], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let versions = 0;
  child.stdout.on('data', (chunk: Buffer) => (versions += chunk.toString().split('\n').filter(Boolean).length));
  const deadline = Date.now() + 20_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`put loop exited early: ${stderr}`);
      if (Date.now() > deadline) throw new Error('no write in progress seen within 20 s');
      const names = await readdir(join(root, 'big')).catch(() => [] as string[]);
      if (versions > 0 && names.some((n) => n.includes('.lakeloop-tmp-'))) break;
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

describe('LocalObjectStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lakeloop-local-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a put killed mid-write (kill -9) leaves the previous version whole and no visible partial object', async () => {
    const root = join(dir, 'lake');
    // Retry until the kill lands while a temp file is still there (it almost always does).
    let leftovers: string[] = [];
    for (let round = 0; round < 5 && leftovers.length === 0; round++) {
      await killMidPut(root);
      leftovers = (await readdir(join(root, 'big'))).filter((n) => n.includes('.lakeloop-tmp-'));
    }
    expect(leftovers.length).toBeGreaterThan(0);

    const store = await LocalObjectStore.create(root);
    expect((await store.listAll('')).map((o) => o.key)).toEqual(['big/obj']);
    expect(await store.listPrefixes('big/')).toEqual([]);
    const body = await store.get('big/obj');
    expect(body.length).toBe(8 * 1024 * 1024);
    expect(body.every((b) => b === body[0])).toBe(true);
    expect((await store.head('big/obj'))?.sizeBytes).toBe(8 * 1024 * 1024);
  });

  it('a failed putFile leaves nothing behind', async () => {
    const store = await LocalObjectStore.create(join(dir, 'lake'));
    await expect(store.putFile('t/file', join(dir, 'no-such-file'))).rejects.toBeInstanceOf(StorageError);
    expect(await store.listAll('')).toEqual([]);
    expect(await readdir(join(dir, 'lake', 't'))).toEqual([]);
  });

  it('putFile with move renames a file on the same filesystem into place instead of copying it', async () => {
    const store = await LocalObjectStore.create(join(dir, 'lake-move'));
    const file = join(dir, 'to-move.bin');
    await writeFile(file, 'moved bytes');
    const old = new Date(Date.now() - 3_600_000);
    await utimes(file, old, old);
    const inode = (await stat(file)).ino;
    await store.putFile('t/moved.bin', file, { move: true });
    expect((await stat(join(dir, 'lake-move', 't', 'moved.bin'))).ino).toBe(inode);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    expect((await store.get('t/moved.bin')).toString()).toBe('moved bytes');
    // The object's time is the upload's, as with a copy.
    expect(Math.abs((await stat(join(dir, 'lake-move', 't', 'moved.bin'))).mtimeMs - Date.now())).toBeLessThan(5_000);
    await expect(store.putFile('t/again.bin', join(dir, 'no-such-file'), { move: true })).rejects.toBeInstanceOf(StorageError);
    expect(await readdir(join(dir, 'lake-move', 't'))).toEqual(['moved.bin']);
  });

  it('localPath with check false names the file without looking at it (a lazy view reports a missing file itself)', async () => {
    const store = await LocalObjectStore.create(dir);
    expect(await store.localPath('bronze/t/gone.parquet', { check: false })).toBe(join(dir, 'bronze', 't', 'gone.parquet'));
  });

  it('temp files of other writers are never listed', async () => {
    const store = await LocalObjectStore.create(join(dir, 'lake'));
    await store.put('t/real', 'real');
    await writeFile(join(dir, 'lake', 't', '.next.lakeloop-tmp-0123456789ab'), 'partial');
    expect((await store.listAll('t/')).map((o) => o.key)).toEqual(['t/real']);
  });
});
