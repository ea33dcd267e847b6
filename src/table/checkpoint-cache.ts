import { createHash, randomUUID } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObjectInfo } from '../storage/index.js';

/**
 * A local cache of Parquet checkpoints as the JSON lines `readCheckpoint` renders them (one
 * action per line), so that a process opening a table reads a checkpoint with DuckDB once and
 * later processes parse the lines instead (~10–15 ms per checkpoint of 400 files → ~2 ms; on
 * S3 it also saves downloading the checkpoint).
 *
 * - An entry is named by the checkpoint objects' identity as the log listing reports it
 *   (store, key, size, modification time, ETag) and by the rendering (`format`: the cache's
 *   format, the action columns, the DuckDB version): a checkpoint rewritten in place, or a
 *   new lakeloop or DuckDB, gets a new name, never a stale entry.
 * - Entries are written to a temp file and renamed, and end with a marker: a torn or
 *   unreadable entry is a miss.
 * - The entries hold the tables' statistics (column min/max values), so the directory is
 *   private: created 0700, entries 0600, and used only when it is a real directory owned by
 *   this user that no one else can read or write (else the cache is off).
 * - At most `maxEntries` entries (least recently used go first; a hit counts as a use), none
 *   larger than `maxEntryBytes`; pruning touches only this cache's own file names.
 *
 * The directory: `LAKELOOP_CHECKPOINT_CACHE_DIR`, else `<os tmpdir>/lakeloop-checkpoints-<uid>`;
 * `LAKELOOP_CHECKPOINT_CACHE_DIR=off` turns the cache off.
 *
 * @example
 * const cache = CheckpointCache.fromEnv();
 * const id = cache?.entryId(store.description, checkpoint.objects, format);
 * const lines = id && (await cache.get(id));
 */
export class CheckpointCache {
  /** Whether the directory is fit for use: checked (and created) once. */
  private usable: Promise<boolean> | undefined;

  private constructor(
    readonly dir: string,
    private readonly maxEntries: number,
    private readonly maxEntryBytes: number,
  ) {}

  static at(dir: string, options: { maxEntries?: number; maxEntryBytes?: number } = {}): CheckpointCache {
    return new CheckpointCache(dir, options.maxEntries ?? 64, options.maxEntryBytes ?? 64 * 1024 * 1024);
  }

  /** The cache the environment names (undefined when it is turned off). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): CheckpointCache | undefined {
    const dir = env['LAKELOOP_CHECKPOINT_CACHE_DIR'];
    if (dir === 'off') return undefined;
    const uid = typeof process.getuid === 'function' ? `-${process.getuid()}` : '';
    return CheckpointCache.at(dir && dir.length > 0 ? dir : join(tmpdir(), `lakeloop-checkpoints${uid}`));
  }

  /** The entry name of a checkpoint: a hash of how it is rendered, where it lives and each part's identity. */
  entryId(storeDescription: string, parts: readonly ObjectInfo[], format: string): string {
    const hash = createHash('sha256').update(`${CACHE_FORMAT}\0${format}\0${storeDescription}`);
    for (const part of parts) hash.update(`\0${part.key}\0${part.sizeBytes}\0${part.lastModifiedMs}\0${part.etag}`);
    return hash.digest('hex').slice(0, 32);
  }

  /** The cached action lines, or undefined (absent, unreadable, or the cache is unusable). */
  async get(id: string): Promise<string[] | undefined> {
    if (!(await this.ready())) return undefined;
    const path = this.pathOf(id);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return undefined;
    }
    // Written whole and renamed into place, so a complete entry ends with the end marker.
    if (!text.endsWith(END_MARKER)) return undefined;
    // A hit is a use: pruning keeps the entries in use.
    const now = new Date();
    await utimes(path, now, now).catch(() => undefined);
    const body = text.slice(0, -END_MARKER.length);
    return body.length === 0 ? [] : body.split('\n');
  }

  /** Stores the action lines of a checkpoint (best effort: a failure only costs a later read). */
  async put(id: string, lines: readonly string[]): Promise<void> {
    const text = lines.join('\n') + END_MARKER;
    if (Buffer.byteLength(text) > this.maxEntryBytes || !(await this.ready())) return;
    const path = this.pathOf(id);
    const temp = `${path}.${randomUUID().slice(0, 8)}.tmp`;
    try {
      await writeFile(temp, text, { mode: 0o600 });
      await rename(temp, path);
      await this.prune();
    } catch {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }

  private pathOf(id: string): string {
    return join(this.dir, `${id}${ENTRY_SUFFIX}`);
  }

  /** Creates the directory (0700) if needed and checks it is private to this user. */
  private ready(): Promise<boolean> {
    this.usable ??= (async () => {
      try {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        const info = await lstat(this.dir);
        if (!info.isDirectory() || info.isSymbolicLink()) return false;
        if (typeof process.getuid === 'function' && (info.uid !== process.getuid() || (info.mode & 0o077) !== 0)) return false;
        return true;
      } catch {
        return false;
      }
    })();
    return this.usable;
  }

  /** Deletes the least recently used entries past `maxEntries`, and temp files older than an hour. */
  private async prune(): Promise<void> {
    const names = await readdir(this.dir);
    const hourAgo = Date.now() - 3_600_000;
    for (const name of names.filter((n) => STALE_TEMP.test(n))) {
      const info = await stat(join(this.dir, name)).catch(() => undefined);
      if (info && info.mtimeMs < hourAgo) await rm(join(this.dir, name), { force: true });
    }
    const entries = names.filter((n) => ENTRY_NAME.test(n));
    if (entries.length <= this.maxEntries) return;
    const aged = await Promise.all(entries.map(async (name) => ({ name, mtimeMs: (await stat(join(this.dir, name)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const entry of aged.slice(0, aged.length - this.maxEntries)) await rm(join(this.dir, entry.name), { force: true });
  }
}

/** Changes whenever what an entry holds changes meaning. */
const CACHE_FORMAT = 'lakeloop-checkpoint-lines-1';
const ENTRY_SUFFIX = '.lakeloop-checkpoint';
const ENTRY_NAME = /^[0-9a-f]{32}\.lakeloop-checkpoint$/;
const STALE_TEMP = /^[0-9a-f]{32}\.lakeloop-checkpoint\.[0-9a-f-]{8}\.tmp$/;

/** Ends every complete entry (a JSON action line never contains it). */
const END_MARKER = '\n#end\n';
