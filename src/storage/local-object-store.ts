import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { failpoint, ObjectNotFound, StorageError } from '../core/index.js';
import { checkKey, checkPrefix } from './keys.js';
import { isRunning, tempOwnerPid } from './process-temp.js';
import type { ListOptions, ListPage, ObjectInfo, ObjectKey, ObjectStore, PutFileOptions, PutIfAbsentResult } from './object-store.js';

const TEMP_MARK = '.lakeloop-tmp-';

/**
 * An `ObjectStore` over a local directory. Writes go to a temp file in the target's
 * folder first, then `rename` (put) or `link` (put-if-absent, which fails atomically
 * when the target exists), so a reader never sees a partial object, even after kill -9.
 *
 * @example
 * const store = await LocalObjectStore.create('./lake');
 */
export class LocalObjectStore implements ObjectStore {
  readonly description: string;
  /** 30 files of a batch moved and fsynced: ~35 ms at 4 in flight, ~16–23 ms at 8–16 (libuv's 4 threads stay busy). */
  readonly putFileConcurrency = 16;

  private constructor(private readonly root: string) {
    this.description = root;
  }

  static async create(root: string): Promise<LocalObjectStore> {
    const absolute = resolve(root);
    await mkdir(absolute, { recursive: true });
    return new LocalObjectStore(absolute);
  }

  private pathOf(key: ObjectKey): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  async get(key: ObjectKey): Promise<Buffer> {
    const body = await this.getIfExists(key);
    if (body === undefined) throw new ObjectNotFound(key, this.description);
    return body;
  }

  async getIfExists(key: ObjectKey): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.failure('read', key, error);
    }
  }

  async getRange(key: ObjectKey, start: number, endExclusive: number): Promise<Buffer> {
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFound(key, this.description);
      throw this.failure('read', key, error);
    }
    try {
      const length = Math.max(0, endExclusive - start);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async put(key: ObjectKey, body: Buffer | string): Promise<void> {
    const target = this.pathOf(key);
    const temp = await this.writeTemp(target, key, body);
    try {
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw this.failure('write', key, error);
    }
  }

  async putFile(key: ObjectKey, localPath: string, options: PutFileOptions = {}): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = tempPathFor(target);
    try {
      // A file the caller is done with is renamed in (no copy) when it is on this filesystem,
      // unless the folder is setgid (a shared group's lake: a copy takes the folder's group).
      const movable = options.move === true && ((await stat(dirname(target))).mode & 0o2000) === 0;
      const moved = movable && (await rename(localPath, temp).then(() => true, () => false));
      if (!moved) await copyFile(localPath, temp, fsConstants.COPYFILE_FICLONE);
      // A moved file's time becomes its upload's, as a copy's is (vacuum ages orphans by it).
      await syncFile(temp, moved ? new Date() : undefined);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw this.failure('write', key, error);
    }
  }

  async putIfAbsent(key: ObjectKey, body: Buffer | string): Promise<PutIfAbsentResult> {
    const target = this.pathOf(key);
    const temp = await this.writeTemp(target, key, body);
    try {
      // link(2) fails with EEXIST if the target exists: the atomic compare-and-set of a local commit.
      failpoint('storage.local.before-link');
      await link(temp, target);
      return { written: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { written: false };
      throw this.failure('write', key, error);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async head(key: ObjectKey): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      if (!info.isFile()) return undefined;
      return toInfo(key, info.size, info.mtimeMs);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.failure('stat', key, error);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const all = await this.listAll(prefix, options.startAfter === undefined ? {} : { startAfter: options.startAfter });
    const after = options.continuationToken;
    const from = after === undefined ? 0 : all.findIndex((o) => o.key > after);
    const maxKeys = options.maxKeys ?? 1000;
    const start = from < 0 ? all.length : from;
    const objects = all.slice(start, start + maxKeys);
    const last = objects[objects.length - 1];
    const more = start + maxKeys < all.length;
    return { objects, continuationToken: more && last ? last.key : undefined };
  }

  async listAll(prefix: string, options: Omit<ListOptions, 'continuationToken'> = {}): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const folderKey = slash < 0 ? '' : prefix.slice(0, slash);
    const found: ObjectInfo[] = [];
    await this.walk(folderKey, prefix, options.startAfter, found);
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const startAfter = options.startAfter;
    const filtered = startAfter === undefined ? found : found.filter((o) => o.key > startAfter);
    return options.maxKeys === undefined ? filtered : filtered.slice(0, options.maxKeys);
  }

  async listPrefixes(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    const folder = prefix === '' ? this.root : join(this.root, ...prefix.replace(/\/$/, '').split('/'));
    const base = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    try {
      const entries = await readdir(folder, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory())
        .map((e) => `${base}${e.name}/`)
        .sort();
    } catch (error) {
      if (isNotFound(error)) return [];
      throw this.failure('list', prefix, error);
    }
  }

  async delete(keys: readonly ObjectKey[]): Promise<void> {
    // Check every key before deleting any: a hostile key refuses the whole batch.
    const paths = keys.map((key) => this.pathOf(key));
    for (const [i, path] of paths.entries()) {
      await rm(path, { force: true }).catch((error) => {
        throw this.failure('delete', keys[i] ?? '', error);
      });
    }
  }

  async localPath(key: ObjectKey, options: { readonly check?: boolean } = {}): Promise<string> {
    const path = this.pathOf(key);
    if (options.check === false) return path;
    if (!(await this.head(key))) throw new ObjectNotFound(key, this.description);
    return path;
  }

  async conditionalWrites(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}

  private async walk(folderKey: string, prefix: string, startAfter: string | undefined, found: ObjectInfo[]): Promise<void> {
    const folder = folderKey === '' ? this.root : join(this.root, ...folderKey.split('/'));
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return;
      throw this.failure('list', prefix, error);
    }
    for (const entry of entries) {
      if (entry.name.includes(TEMP_MARK)) {
        // A temp file of a process killed mid-write: never an object, removed where a listing meets it (older names, without a pid, are kept).
        if (entry.isFile() && !isRunning(tempOwnerPid(entry.name) ?? process.pid)) void rm(join(folder, entry.name), { force: true }).catch(() => undefined);
        continue;
      }
      const key = folderKey === '' ? entry.name : `${folderKey}/${entry.name}`;
      if (entry.isDirectory()) {
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await this.walk(key, prefix, startAfter, found);
      } else if (entry.isFile() && key.startsWith(prefix) && (startAfter === undefined || key > startAfter)) {
        const info = await stat(join(folder, entry.name)).catch(() => undefined);
        if (info) found.push(toInfo(key, info.size, info.mtimeMs));
      }
    }
  }

  private async writeTemp(target: string, key: ObjectKey, body: Buffer | string): Promise<string> {
    const temp = tempPathFor(target);
    try {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(temp, body, { flush: true });
      return temp;
    } catch (error) {
      await rm(temp, { force: true });
      throw this.failure('write', key, error);
    }
  }

  private failure(verb: string, key: ObjectKey, error: unknown): StorageError {
    const reason = error instanceof Error ? error.message : String(error);
    return new StorageError(`Failed to ${verb} ${key} in ${this.description}: ${reason}`, key, { cause: error });
  }
}

function tempPathFor(target: string): string {
  const folder = dirname(target);
  const name = target.slice(folder.length + 1);
  return `${folder}${sep}.${name}${TEMP_MARK}p${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function syncFile(path: string, time?: Date): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    if (time) await handle.utimes(time, time);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function toInfo(key: ObjectKey, sizeBytes: number, mtimeMs: number): ObjectInfo {
  return { key, sizeBytes, lastModifiedMs: Math.floor(mtimeMs), etag: `${sizeBytes}-${Math.floor(mtimeMs * 1000)}` };
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
