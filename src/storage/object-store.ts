/**
 * Keys are `/`-separated paths relative to the lake root (`bronze/orders/_delta_log/00000000000000000000.json`),
 * never starting with `/` and never containing `..` segments.
 */
export type ObjectKey = string;

/** What a store knows about one object without reading it. */
export interface ObjectInfo {
  readonly key: ObjectKey;
  readonly sizeBytes: number;
  readonly lastModifiedMs: number;
  /** An identity that changes whenever the content does (S3 ETag; local: size+mtime). */
  readonly etag: string;
}

/** One page of a listing, in ascending key order. */
export interface ListPage {
  readonly objects: readonly ObjectInfo[];
  /** Pass back as `continuationToken` to get the next page; undefined on the last page. */
  readonly continuationToken: string | undefined;
}

export interface ListOptions {
  /** Only keys that start after this key (exclusive), like S3's `StartAfter`. */
  readonly startAfter?: ObjectKey;
  readonly continuationToken?: string;
  /** At most this many objects per page (the store may return fewer). */
  readonly maxKeys?: number;
}

/** How `putFile` may treat the local file. */
export interface PutFileOptions {
  readonly move?: boolean;
}

/** The outcome of a put-if-absent: `false` means the key already existed and nothing was written. */
export type PutIfAbsentResult = { readonly written: true } | { readonly written: false };

/**
 * The one interface all lake I/O goes through: the local filesystem and S3 implement it.
 *
 * @example
 * const store = await LocalObjectStore.create('/data/lake');
 * await store.put('bronze/orders/a.parquet', buffer);
 * const { written } = await store.putIfAbsent('bronze/orders/_delta_log/00000000000000000001.json', body);
 */
export interface ObjectStore {
  /** A human-readable location of the lake root, for messages (`/data/lake`, `s3://bucket/prefix`). */
  readonly description: string;

  /** The whole object; throws `ObjectNotFound` when absent. */
  get(key: ObjectKey): Promise<Buffer>;
  /** The whole object, or `undefined` when absent (an expected "nothing" is not an error). */
  getIfExists(key: ObjectKey): Promise<Buffer | undefined>;
  /** Bytes `[start, endExclusive)` of the object. */
  getRange(key: ObjectKey, start: number, endExclusive: number): Promise<Buffer>;
  /** Writes (or replaces) an object atomically: readers see the old or the new content, never a part. */
  put(key: ObjectKey, body: Buffer | string): Promise<void>;
  /**
   * Uploads a local file (multipart on S3 when large); atomic like `put`. With `move`, the
   * caller is done with the local file: a store may take it instead of copying it (the local
   * store renames it into place when it is on the same filesystem), so it may be gone after,
   * also when the upload fails.
   */
  putFile(key: ObjectKey, localPath: string, options?: PutFileOptions): Promise<void>;
  /**
   * How many `putFile` calls a writer keeps in flight (default 4): the local store takes more,
   * since each is a few small filesystem calls around one fsync, which overlap well.
   */
  readonly putFileConcurrency?: number;
  /** Writes only if no object exists at `key`; atomic against concurrent writers where `conditionalWrites` is true. */
  putIfAbsent(key: ObjectKey, body: Buffer | string): Promise<PutIfAbsentResult>;
  /** Metadata of an object, or `undefined` when absent. */
  head(key: ObjectKey): Promise<ObjectInfo | undefined>;
  /** One page of the objects whose keys start with `prefix`. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Every object under `prefix` (all pages), ascending. */
  listAll(prefix: string, options?: Omit<ListOptions, 'continuationToken'>): Promise<ObjectInfo[]>;
  /**
   * The immediate "sub-folders" of `prefix` (ending in `/`), ascending: every folder that
   * holds an object at any depth, also one that holds only sub-folders.
   */
  listPrefixes(prefix: string): Promise<string[]>;
  /** Deletes objects; absent keys are ignored. */
  delete(keys: readonly ObjectKey[]): Promise<void>;
  /**
   * A local filesystem path holding the object's bytes, for DuckDB to read. Local store: the
   * file itself, checked to exist (`ObjectNotFound`) unless `check` is false, for a caller
   * that lets DuckDB report a missing file when it reads it (a view over hundreds of files
   * skips as many stat calls). S3: a file in a bounded, size-capped download cache (objects
   * are immutable).
   */
  localPath(key: ObjectKey, options?: { readonly check?: boolean }): Promise<string>;
  /**
   * Whether `putIfAbsent` is guaranteed atomic against other processes. The S3 store
   * probes the endpoint once; where it does not enforce `If-None-Match: *` this is false
   * and the engine must run single-writer (SPEC §4).
   */
  conditionalWrites(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * What the engine prints when `conditionalWrites()` is false: the store does not enforce
 * `If-None-Match: *`, so two writers could both "win" a commit.
 *
 * @example
 * if (!(await store.conditionalWrites())) logger.warn(singleWriterNotice(store.description));
 */
export function singleWriterNotice(description: string): string {
  return `${description} does not enforce conditional writes (If-None-Match: *); lakeloop runs single-writer: run only one writer against this lake at a time.`;
}

/** `singleWriterNotice` without a location, for places that have none. */
export const SINGLE_WRITER_NOTICE = singleWriterNotice('This object store');
