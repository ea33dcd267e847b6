/**
 * The one contract every `ObjectStore` must meet. `describeObjectStoreContract` is called
 * once per implementation (see object-store.contract.test.ts) with a factory that makes a
 * fresh, empty store for each test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ObjectNotFound, StorageError } from '../../src/core/index.js';
import type { ObjectStore } from '../../src/storage/index.js';

/** A store under test and how to dispose of it. */
export interface ContractSubject {
  readonly store: ObjectStore;
  cleanup(): Promise<void>;
}

export interface ContractFactoryOptions {
  /** Make `putFile` go multipart from 5 MiB on, with 5 MiB parts (where the store has multipart). */
  readonly smallMultipart?: boolean;
}

export interface ContractOptions {
  /** What `conditionalWrites()` must return; `undefined` when it depends on the endpoint. */
  readonly expectConditionalWrites: boolean | undefined;
  /**
   * Whether the store replaces objects atomically under concurrent readers. False only for
   * s3rver, which rewrites an object's file in place (a racing GET stalls, then is cut);
   * S3, MinIO and the local store swap whole objects.
   */
  readonly atomicOverwrite: boolean;
}

const MiB = 1024 * 1024;

export function describeObjectStoreContract(
  name: string,
  factory: (options?: ContractFactoryOptions) => Promise<ContractSubject>,
  contract: ContractOptions,
): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let subject: ContractSubject;
    let store: ObjectStore;
    let scratch: string;

    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'lakeloop-contract-'));
    });
    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });
    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    it('gets what was put; a missing object is ObjectNotFound for get and nothing for getIfExists/head', async () => {
      await store.put('a/b.json', '{"x":1}');
      expect((await store.get('a/b.json')).toString()).toBe('{"x":1}');
      expect((await store.getIfExists('a/b.json'))?.toString()).toBe('{"x":1}');
      await expect(store.get('a/missing.json')).rejects.toBeInstanceOf(ObjectNotFound);
      await expect(store.get('a/missing.json')).rejects.toThrow(/Failed to read a\/missing\.json/);
      expect(await store.getIfExists('a/missing.json')).toBeUndefined();
      expect(await store.head('a/missing.json')).toBeUndefined();
    });

    it('keeps binary and empty bodies exact', async () => {
      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await store.put('bin/all-bytes', binary);
      await store.put('bin/empty', Buffer.alloc(0));
      expect((await store.get('bin/all-bytes')).equals(binary)).toBe(true);
      expect((await store.get('bin/empty')).length).toBe(0);
      expect((await store.head('bin/empty'))?.sizeBytes).toBe(0);
    });

    it('reads byte ranges [start, end), clipped at the end of the object', async () => {
      await store.put('r/text', 'hello world');
      expect((await store.getRange('r/text', 0, 5)).toString()).toBe('hello');
      expect((await store.getRange('r/text', 6, 11)).toString()).toBe('world');
      expect((await store.getRange('r/text', 6, 100)).toString()).toBe('world');
      expect((await store.getRange('r/text', 20, 30)).length).toBe(0);
      expect((await store.getRange('r/text', 3, 3)).length).toBe(0);
      await expect(store.getRange('r/missing', 0, 5)).rejects.toBeInstanceOf(ObjectNotFound);
    });

    it('put replaces an object atomically: readers see the old or the new bytes, whole', async () => {
      const size = 256 * 1024;
      await store.put('atomic/obj', Buffer.alloc(size, 0));
      const reads: Promise<Buffer>[] = [];
      for (let v = 1; v <= 8; v++) {
        await store.put('atomic/obj', Buffer.alloc(size, v));
        const read = store.get('atomic/obj');
        if (!contract.atomicOverwrite) await read;
        reads.push(read);
      }
      for (const body of await Promise.all(reads)) {
        expect(body.length).toBe(size);
        expect(body.every((b) => b === body[0])).toBe(true);
      }
      expect((await store.get('atomic/obj'))[0]).toBe(8);
      const info = await store.head('atomic/obj');
      expect(info?.sizeBytes).toBe(size);
    });

    it('head reports size, a recent modification time and an etag that changes with the content', async () => {
      await store.put('h/obj', 'first');
      const first = await store.head('h/obj');
      expect(first).toMatchObject({ key: 'h/obj', sizeBytes: 5 });
      expect(first?.etag).not.toBe('');
      expect(Math.abs((first?.lastModifiedMs ?? 0) - Date.now())).toBeLessThan(10 * 60_000);
      await store.put('h/obj', 'second!');
      const second = await store.head('h/obj');
      expect(second?.sizeBytes).toBe(7);
      expect(second?.etag).not.toBe(first?.etag);
    });

    it('putFile uploads a small file', async () => {
      const bytes = randomBytes(1000);
      const file = join(scratch, `small-${randomBytes(4).toString('hex')}`);
      await writeFile(file, bytes);
      await store.putFile('files/small.bin', file);
      expect((await store.get('files/small.bin')).equals(bytes)).toBe(true);
    });

    it('putFile with move: the object holds the file; without move the local file stays', async () => {
      const bytes = randomBytes(5000);
      const kept = join(scratch, `kept-${randomBytes(4).toString('hex')}`);
      const given = join(scratch, `given-${randomBytes(4).toString('hex')}`);
      await writeFile(kept, bytes);
      await writeFile(given, bytes);
      await store.putFile('files/kept.bin', kept);
      await store.putFile('files/given.bin', given, { move: true });
      expect((await store.get('files/kept.bin')).equals(bytes)).toBe(true);
      expect((await store.get('files/given.bin')).equals(bytes)).toBe(true);
      expect((await readFile(kept)).equals(bytes)).toBe(true);
    });

    it('putFile uploads a large file in parts (11 MiB, 5 MiB parts)', async () => {
      const multipart = await factory({ smallMultipart: true });
      try {
        const bytes = randomBytes(11 * MiB);
        const file = join(scratch, `large-${randomBytes(4).toString('hex')}`);
        await writeFile(file, bytes);
        await multipart.store.putFile('files/large.bin', file);
        expect((await multipart.store.head('files/large.bin'))?.sizeBytes).toBe(bytes.length);
        expect((await multipart.store.get('files/large.bin')).equals(bytes)).toBe(true);
        // A range across the first part boundary.
        const range = await multipart.store.getRange('files/large.bin', 5 * MiB - 10, 5 * MiB + 10);
        expect(range.equals(bytes.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true);
      } finally {
        await multipart.cleanup();
      }
    });

    it('putIfAbsent writes once; a second write returns written:false and changes nothing', async () => {
      expect(await store.putIfAbsent('log/00000.json', 'first')).toEqual({ written: true });
      expect(await store.putIfAbsent('log/00000.json', 'second')).toEqual({ written: false });
      expect((await store.get('log/00000.json')).toString()).toBe('first');
    });

    it('conditionalWrites() tells whether putIfAbsent is enforced; when it is, exactly one of 20 racing writers wins', async () => {
      const enforced = await store.conditionalWrites();
      expect(typeof enforced).toBe('boolean');
      if (contract.expectConditionalWrites !== undefined) expect(enforced).toBe(contract.expectConditionalWrites);
      expect(await store.conditionalWrites()).toBe(enforced);
      // The probe leaves nothing behind.
      expect(await store.listAll('')).toEqual([]);
      if (!enforced) return;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.putIfAbsent('race/00001.json', `writer-${i}`).then((r) => ({ i, ...r }))),
      );
      const winners = results.filter((r) => r.written);
      expect(winners).toHaveLength(1);
      expect((await store.get('race/00001.json')).toString()).toBe(`writer-${winners[0]?.i}`);
    });

    it('lists in ascending key order, by plain string prefix, after startAfter, page by page', async () => {
      const keys = ['t/b', 't/a/2', 't/a1', 't/c', 't/a/1', 'u/x', 't/d', 't/e'];
      for (const key of keys) await store.put(key, key);
      const sorted = keys.filter((k) => k.startsWith('t/')).sort();
      expect((await store.listAll('t/')).map((o) => o.key)).toEqual(sorted);
      expect((await store.listAll('t/a')).map((o) => o.key)).toEqual(['t/a/1', 't/a/2', 't/a1']);
      expect((await store.listAll('')).map((o) => o.key)).toEqual([...keys].sort());
      expect((await store.listAll('t/', { startAfter: 't/b' })).map((o) => o.key)).toEqual(['t/c', 't/d', 't/e']);
      expect((await store.listAll('t/', { maxKeys: 3 })).map((o) => o.key)).toEqual(sorted.slice(0, 3));
      expect(await store.listAll('nothing/')).toEqual([]);
      const listed = (await store.listAll('t/'))[0];
      expect(listed).toMatchObject({ key: 't/a/1', sizeBytes: 5 });

      const paged: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await store.list('t/', { maxKeys: 2, ...(token === undefined ? {} : { continuationToken: token }) });
        expect(page.objects.length).toBeLessThanOrEqual(2);
        paged.push(...page.objects.map((o) => o.key));
        token = page.continuationToken;
        pages++;
      } while (token !== undefined && pages < 20);
      expect(paged).toEqual(sorted);
      expect(pages).toBe(Math.ceil(sorted.length / 2));

      const afterPage = await store.list('t/', { startAfter: 't/a1', maxKeys: 2 });
      expect(afterPage.objects.map((o) => o.key)).toEqual(['t/b', 't/c']);
      expect(afterPage.continuationToken).toBeDefined();
    });

    it('listAll goes past 1,000 keys, and delete removes them in batches', async () => {
      const keys = Array.from({ length: 1100 }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
      await forEachLimited(keys, 32, (key) => store.put(key, 'x'));
      const all = await store.listAll('many/');
      expect(all).toHaveLength(1100);
      expect(all.map((o) => o.key)).toEqual(keys);
      expect((await store.listAll('many/', { startAfter: 'many/k01049' })).map((o) => o.key)).toEqual(keys.slice(1050));
      expect(await store.listAll('many/', { maxKeys: 1050 })).toHaveLength(1050);
      await store.delete(keys);
      expect(await store.listAll('many/')).toEqual([]);
    });

    it('listPrefixes returns the immediate sub-folders, ascending', async () => {
      for (const key of ['a/x/1', 'a/x/2', 'a/y/deep/3', 'a/z', 'b/1', 'top']) await store.put(key, key);
      expect(await store.listPrefixes('')).toEqual(['a/', 'b/']);
      expect(await store.listPrefixes('a/')).toEqual(['a/x/', 'a/y/']);
      expect(await store.listPrefixes('a')).toEqual(['a/x/', 'a/y/']);
      expect(await store.listPrefixes('a/y/')).toEqual(['a/y/deep/']);
      expect(await store.listPrefixes('nothing/')).toEqual([]);
    });

    it('listPrefixes finds folders that hold only sub-folders (a partitioned table), beside look-alike names', async () => {
      // s3rver 3.x leaves `p/t/` and `p/u/` out of a Delimiter listing: no object sits directly in them.
      const keys = ['p/t/_delta_log/0.json', 'p/t/d=1/f', 'p/t-1/x/y', 'p/t0/z/w', 'p/u/v/w/x', 'p/file', 'p/t.txt'];
      for (const key of keys) await store.put(key, key);
      expect(await store.listPrefixes('p/')).toEqual(['p/t-1/', 'p/t/', 'p/t0/', 'p/u/']);
      expect(await store.listPrefixes('p/u/v/')).toEqual(['p/u/v/w/']);
    });

    it('delete removes the given objects, ignores absent keys and keeps the rest', async () => {
      for (const key of ['d/1', 'd/2', 'd/3', 'd/keep']) await store.put(key, key);
      await store.delete(['d/1', 'd/2', 'd/absent', 'd/3', 'other/absent']);
      await store.delete([]);
      expect((await store.listAll('d/')).map((o) => o.key)).toEqual(['d/keep']);
    });

    it('localPath gives a readable local file with the object bytes', async () => {
      const bytes = randomBytes(4096);
      await store.put('bronze/t/part-0.parquet', bytes);
      const path = await store.localPath('bronze/t/part-0.parquet');
      expect((await readFile(path)).equals(bytes)).toBe(true);
      const again = await store.localPath('bronze/t/part-0.parquet');
      expect((await readFile(again)).equals(bytes)).toBe(true);
      await expect(store.localPath('bronze/t/missing.parquet')).rejects.toBeInstanceOf(ObjectNotFound);
      // Unchecked, a present object still comes back readable (a local store just skips its stat).
      expect((await readFile(await store.localPath('bronze/t/part-0.parquet', { check: false }))).equals(bytes)).toBe(true);
    });

    it('refuses hostile keys everywhere', async () => {
      await store.put('safe', 'safe');
      for (const key of ['../x', '/abs', 'a//b', 'a/../../b', './a', 'a\\b', '']) {
        const attempts: [string, () => Promise<unknown>][] = [
          ['get', () => store.get(key)],
          ['getIfExists', () => store.getIfExists(key)],
          ['getRange', () => store.getRange(key, 0, 1)],
          ['put', () => store.put(key, 'evil')],
          ['putIfAbsent', () => store.putIfAbsent(key, 'evil')],
          ['putFile', () => store.putFile(key, join(scratch, 'does-not-matter'))],
          ['head', () => store.head(key)],
          ['delete', () => store.delete(['safe', key])],
          ['localPath', () => store.localPath(key)],
        ];
        for (const [operation, attempt] of attempts) {
          await expect(attempt(), `${operation}(${JSON.stringify(key)})`).rejects.toBeInstanceOf(StorageError);
        }
      }
      await expect(store.list('../')).rejects.toBeInstanceOf(StorageError);
      await expect(store.listPrefixes('/abs/')).rejects.toBeInstanceOf(StorageError);
      // Nothing was written or deleted on the way.
      expect((await store.listAll('')).map((o) => o.key)).toEqual(['safe']);
    });
  });
}

async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
