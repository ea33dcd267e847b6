import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { extname, join } from 'node:path';

const TEMP_PREFIX = '.download-';
/** Temp files older than this are leftovers of a crashed download and are removed. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** Where and how big a download cache is. */
export interface DownloadCacheOptions {
  readonly dir: string;
  /** Total bytes kept; the least recently used files go first. A single larger file is still served. */
  readonly maxBytes: number;
}

/**
 * A bounded directory of downloaded immutable objects, keyed by an identity such as
 * `key + etag` (a changed object has a new etag, so entries never go stale).
 *
 * Files appear by rename from a temp file, so a reader never sees a partial one. "Last
 * use" is the file's mtime, set on every hit: atime is unreliable (relatime/noatime
 * mounts). Files handed out by a `fetch` still in progress are never evicted; a path
 * returned earlier may be evicted by later fetches, so the cap should exceed what one
 * query reads at once. Several processes may share a directory.
 *
 * @example
 * const cache = await DownloadCache.create({ dir: '/tmp/lakeloop-cache/x', maxBytes: 2 ** 31 });
 * const path = await cache.fetch(`${key}\0${etag}`, key, (temp) => downloadTo(temp));
 */
export class DownloadCache {
  private readonly pinned = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<string>>();

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** The directory is made on the first download, so an unused cache leaves no trace. */
  static async create(options: DownloadCacheOptions): Promise<DownloadCache> {
    return new DownloadCache(options.dir, Math.max(0, options.maxBytes));
  }

  /**
   * The path of the cached file for `identity`, downloading it with `download(tempPath)`
   * on a miss. `nameHint` (e.g. the object key) gives the file its extension, which
   * readers such as DuckDB use to guess the format.
   */
  fetch(identity: string, nameHint: string, download: (tempPath: string) => Promise<void>): Promise<string> {
    const path = join(this.dir, `${createHash('sha256').update(identity).digest('hex').slice(0, 40)}${safeExtension(nameHint)}`);
    const running = this.inFlight.get(path);
    if (running) return running;
    const work = this.fetchPinned(path, download).finally(() => this.inFlight.delete(path));
    this.inFlight.set(path, work);
    return work;
  }

  /** Bytes currently held (temp files excluded). */
  async sizeBytes(): Promise<number> {
    const entries = await this.entries();
    return entries.reduce((sum, e) => sum + e.sizeBytes, 0);
  }

  private async fetchPinned(path: string, download: (tempPath: string) => Promise<void>): Promise<string> {
    this.pin(path);
    try {
      if (await touch(path)) return path;
      const temp = join(this.dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
      try {
        await mkdir(this.dir, { recursive: true });
        await download(temp);
        await rename(temp, path);
      } finally {
        await rm(temp, { force: true });
      }
      await this.evict();
      return path;
    } finally {
      this.unpin(path);
    }
  }

  private async evict(): Promise<void> {
    const entries = await this.entries();
    let total = entries.reduce((sum, e) => sum + e.sizeBytes, 0);
    if (total <= this.maxBytes) return;
    entries.sort((a, b) => a.lastUsedMs - b.lastUsedMs);
    for (const entry of entries) {
      if (total <= this.maxBytes) break;
      if (this.pinned.has(entry.path)) continue;
      await rm(entry.path, { force: true });
      total -= entry.sizeBytes;
    }
  }

  private async entries(): Promise<{ path: string; sizeBytes: number; lastUsedMs: number }[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const now = Date.now();
    const found: { path: string; sizeBytes: number; lastUsedMs: number }[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) continue;
      if (name.startsWith(TEMP_PREFIX)) {
        if (now - info.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true });
        continue;
      }
      found.push({ path, sizeBytes: info.size, lastUsedMs: info.mtimeMs });
    }
    return found;
  }

  private pin(path: string): void {
    this.pinned.set(path, (this.pinned.get(path) ?? 0) + 1);
  }

  private unpin(path: string): void {
    const count = (this.pinned.get(path) ?? 1) - 1;
    if (count <= 0) this.pinned.delete(path);
    else this.pinned.set(path, count);
  }
}

/** Marks a cached file as just used; false when it is not there. */
async function touch(path: string): Promise<boolean> {
  const now = new Date();
  try {
    await utimes(path, now, now);
    return true;
  } catch {
    return false;
  }
}

function safeExtension(nameHint: string): string {
  const ext = extname(nameHint.slice(nameHint.lastIndexOf('/') + 1));
  return /^\.[A-Za-z0-9]{1,12}$/.test(ext) ? ext : '';
}
