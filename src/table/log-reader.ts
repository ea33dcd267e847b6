import { assert, LakeloopError, systemClock, TableCorrupt, TableNotFound, type Clock } from '../core/index.js';
import type { Engine } from '../engine/index.js';
import type { ObjectInfo, ObjectStore } from '../storage/index.js';
import { parseCommitFile, type CommitInfoAction, type ParsedActions } from './actions.js';
import type { CheckpointCache } from './checkpoint-cache.js';
import { readCheckpoint } from './checkpoint-reader.js';
import { readLastCheckpoint } from './checkpoint-writer.js';
import type { FileColumns } from './file-columns.js';
import { IDEMPOTENCY_KEY_PREFIX } from './idempotency-keys.js';
import { classifyLog, commitKey, hasDeltaLog, logPrefix, padVersion, type LogListing } from './log-files.js';
import { LogReplay } from './log-replay.js';
import { checkReadable } from './protocol-support.js';
import { mapLimit, Snapshot } from './snapshot.js';

/** Which version of a table to read: the latest by default, or at a version, or as of a time. */
export interface SnapshotSelector {
  readonly version?: number;
  /** the latest version whose commit timestamp is ≤ this (epoch ms). */
  readonly timestampMs?: number;
}

/** One commit as `history()` reports it. */
export interface CommitSummary {
  readonly version: number;
  readonly timestampMs: number;
  readonly operation: string | null;
  readonly operationParameters: Readonly<Record<string, unknown>>;
  readonly readVersion: number | null;
  readonly isBlindAppend: boolean | null;
  readonly engineInfo: string | null;
  /** `commitInfo.operationMetrics` as written (Spark and lakeloop write numbers as strings). */
  readonly operationMetrics: Readonly<Record<string, unknown>>;
  readonly numAddedFiles: number;
  readonly numRemovedFiles: number;
  /** The commit's txns, its idempotency keys (`key:…`) left out. */
  readonly txns: readonly { readonly appId: string; readonly version: number }[];
  /** the whole commitInfo, including lakeloop's `operationMetrics` and caller extras. */
  readonly commitInfo: CommitInfoAction;
}

/** What the reader needs to know about the table. */
export interface LogReaderContext {
  readonly store: ObjectStore;
  readonly engine: Engine;
  readonly table: string;
  readonly tablePath: string;
  readonly fileColumns: FileColumns;
  /** false: ignore checkpoints and replay every JSON commit (for tests and repair). */
  readonly useCheckpoints: boolean;
  /** Keeps read checkpoints as JSON lines for the next reader (none: always read with DuckDB). */
  readonly checkpointCache?: CheckpointCache | undefined;
  /** What idempotency keys expire by (default: the system's). */
  readonly clock?: Clock;
  /** How many commits' summaries the reader keeps (default `REMEMBERED_COMMITS`). */
  readonly rememberedCommits?: number;
}

/**
 * The commits whose summaries (time, commitInfo, txns) a reader keeps, the newest: enough for
 * the recent history planners and status read, while a long-running writer's log (a collector
 * commits a batch a second or more, for weeks) does not grow the process by a summary per
 * commit (~850 B of heap each for a collector's batch: 10 batches a second would be 0.7 GB a
 * day). Older commits are read again from the log when asked for.
 */
export const REMEMBERED_COMMITS = 10_000;

interface CommitMeta {
  readonly timestampMs: number;
  readonly commitInfo: CommitInfoAction;
  readonly numAddedFiles: number;
  readonly numRemovedFiles: number;
  /** The commit's txns but its idempotency keys (a collector commit carries one per request: too many to keep). */
  readonly txns: readonly { appId: string; version: number }[];
}

/**
 * Reads a table's `_delta_log`: `_last_checkpoint` → the checkpoint → later JSON commits
 * (listed with `startAfter`, so the cost stays flat as the log grows), or a full listing
 * when `_last_checkpoint` is missing. Keeps the latest state and extends it with new
 * commits only. Refuses gaps, malformed records and protocols it cannot read.
 */
export class LogReader {
  private latest: { replay: LogReplay; snapshot: Snapshot } | undefined;
  /** Summaries of the newest commits read or written, at most `rememberedCommits` (oldest dropped first). */
  private readonly commitMeta = new Map<number, CommitMeta>();
  private readonly rememberedCommits: number;
  /** The last commit this reader's table wrote (commits are immutable once written). */
  private lastWritten: { version: number; actions: ParsedActions } | undefined;

  constructor(private readonly context: LogReaderContext) {
    this.rememberedCommits = context.rememberedCommits ?? REMEMBERED_COMMITS;
  }

  /** How many commit summaries this reader holds now (bounded by `rememberedCommits`). */
  get rememberedCommitCount(): number {
    return this.commitMeta.size;
  }

  /** The snapshot selected (latest by default). */
  async snapshot(at: SnapshotSelector = {}): Promise<Snapshot> {
    if (at.version !== undefined && at.timestampMs !== undefined) {
      throw new LakeloopError('USAGE', `Failed to read ${this.context.table}: give a version or a timestamp, not both`);
    }
    if (at.timestampMs !== undefined) return this.load(await this.versionAt(at.timestampMs));
    if (at.version !== undefined) {
      if (!Number.isInteger(at.version) || at.version < 0) {
        throw new LakeloopError('USAGE', `Failed to read ${this.context.table}: version ${at.version} is not a non-negative integer`);
      }
      if (this.latest && this.latest.snapshot.version === at.version) return this.latest.snapshot;
      return this.load(at.version);
    }
    return this.latestSnapshot();
  }

  /** Whether the table has a log at all (two HEADs in the usual case, a listing otherwise). */
  exists(): Promise<boolean> {
    return hasDeltaLog(this.context.store, this.context.tablePath);
  }

  /** The cached latest snapshot, if this reader has one (no I/O). */
  cached(): Snapshot | undefined {
    return this.latest?.snapshot;
  }

  /** Reads and parses one commit file; undefined when it does not exist. */
  async readCommit(version: number, lastModifiedMs?: number): Promise<ParsedActions | undefined> {
    return (await this.readCommitMeta(version, lastModifiedMs))?.actions;
  }

  /** A commit's actions and its summary (remembered); undefined when its file does not exist. */
  private async readCommitMeta(version: number, lastModifiedMs?: number): Promise<{ actions: ParsedActions; meta: CommitMeta } | undefined> {
    // The commit this process just wrote needs no GET (a runner counts its adds right after).
    if (this.lastWritten?.version === version) {
      const { actions } = this.lastWritten;
      return { actions, meta: this.commitMeta.get(version) ?? this.remember(version, actions, 0) };
    }
    const key = commitKey(this.context.tablePath, version);
    const body = await this.context.store.getIfExists(key);
    if (!body) return undefined;
    const parsed = parseCommitFile(body.toString('utf8'), { table: this.context.table, version, file: key });
    let modified = lastModifiedMs ?? 0;
    if (typeof parsed.commitInfo?.timestamp !== 'number' && lastModifiedMs === undefined) {
      modified = (await this.context.store.head(key))?.lastModifiedMs ?? 0;
    }
    return { actions: parsed, meta: this.remember(version, parsed, modified) };
  }

  /** The newest commits first, at most `limit` (all by default); stops at commits a log cleanup removed. */
  async history(limit: number | undefined): Promise<CommitSummary[]> {
    const latest = (await this.latestSnapshot()).version;
    const oldest = Math.max(0, latest - (limit ?? Number.MAX_SAFE_INTEGER) + 1);
    const candidates: number[] = [];
    for (let v = latest; v >= oldest; v--) candidates.push(v);
    const found = await mapLimit(candidates, 16, async (v) => this.commitMeta.get(v) ?? (await this.readCommitMeta(v))?.meta);
    const missing = found.findIndex((meta) => meta === undefined);
    const versions = missing < 0 ? candidates : candidates.slice(0, missing);
    const metas = found.slice(0, versions.length);
    return versions.map((version, i) => {
      const meta = metas[i] as CommitMeta;
      const info = meta.commitInfo;
      return {
        version,
        timestampMs: meta.timestampMs,
        operation: typeof info.operation === 'string' ? info.operation : null,
        operationParameters: (info.operationParameters as Record<string, unknown> | undefined) ?? {},
        readVersion: typeof info['readVersion'] === 'number' ? info['readVersion'] : null,
        isBlindAppend: typeof info['isBlindAppend'] === 'boolean' ? info['isBlindAppend'] : null,
        engineInfo: typeof info['engineInfo'] === 'string' ? info['engineInfo'] : null,
        operationMetrics: isRecord(info['operationMetrics']) ? info['operationMetrics'] : {},
        numAddedFiles: meta.numAddedFiles,
        numRemovedFiles: meta.numRemovedFiles,
        txns: meta.txns,
        commitInfo: info,
      };
    });
  }

  /**
   * Records a commit this process just wrote, extending the cached latest state without
   * re-reading it when it directly follows.
   */
  noteCommitted(version: number, actions: ParsedActions, timestampMs: number): void {
    this.remember(version, actions, timestampMs);
    this.lastWritten = { version, actions };
    if (!this.latest || this.latest.replay.version !== version - 1) return;
    // Extended in place: a snapshot copies what it holds (files, tombstones, txns) but the
    // idempotency keys, which it sees up to its own version (`SnapshotTxns`), so no copy costs
    // O(keys) per commit (a collector's table gains one per request). A failure leaves no
    // half-applied state.
    const { replay } = this.latest;
    try {
      replay.apply(version, actions);
      this.latest = { replay, snapshot: this.build(replay, timestampMs) };
    } catch (error) {
      this.latest = undefined;
      throw error;
    }
  }

  private async latestSnapshot(): Promise<Snapshot> {
    const cached = this.latest;
    if (!cached) return this.load(undefined);
    const { store, tablePath } = this.context;
    // No next commit means nothing newer (a log has no gaps): one HEAD, where a listing of the
    // log folder costs a request that grows with the log (every batch of a collector asks).
    if (!(await store.head(commitKey(tablePath, cached.replay.version + 1)))) return cached.snapshot;
    const prefix = logPrefix(tablePath);
    const objects = await store.listAll(prefix, { startAfter: commitKey(tablePath, cached.replay.version) });
    const listing = classifyLog(prefix, objects);
    const newer = [...listing.commits.keys()].filter((v) => v > cached.replay.version).sort((a, b) => a - b);
    if (newer.length === 0) return cached.snapshot;
    const last = newer[newer.length - 1] as number;
    this.checkContiguous(listing, cached.replay.version + 1, last);
    const replay = cached.replay.clone();
    const timestampMs = await this.replayCommits(replay, listing, cached.replay.version + 1, last);
    const snapshot = this.build(replay, timestampMs);
    this.latest = { replay, snapshot };
    return snapshot;
  }

  /** Builds the snapshot at `target` (latest when undefined) from the newest usable checkpoint. */
  private async load(target: number | undefined): Promise<Snapshot> {
    const { table } = this.context;
    const listing = await this.listing(target);
    if (listing.commits.size === 0 && listing.checkpoints.size === 0) throw new TableNotFound(table);
    const latest = Math.max(maxOf(listing.commits.keys()), maxOf(listing.checkpoints.keys()));
    if (target !== undefined && target > latest) {
      throw new LakeloopError('VERSION_NOT_FOUND', `Failed to read ${table} at version ${target}: the latest version is ${latest}`);
    }
    const end = target ?? latest;
    const usable = this.context.useCheckpoints ? maxOf([...listing.checkpoints.keys()].filter((v) => v <= end)) : -1;
    const checkpoint = usable >= 0 ? usable : undefined;
    const replay = new LogReplay(table);
    let start: number;
    if (checkpoint !== undefined) {
      const files = listing.checkpoints.get(checkpoint);
      assert(files, 'a checkpoint picked from a listing is in it');
      const actions = await readCheckpoint({ store: this.context.store, engine: this.context.engine, table, cache: this.context.checkpointCache }, files);
      replay.apply(checkpoint, actions, files.objects[0]?.lastModifiedMs);
      start = checkpoint + 1;
    } else {
      const first = minOf(listing.commits.keys());
      if (first !== 0) {
        const starts = Number.isFinite(first) ? `the log starts at version ${first}` : 'the log has no JSON commits';
        throw new TableCorrupt(table, end, `${starts} and has no usable checkpoint to start from`, {
          hint: 'Versions before the oldest checkpoint are no longer readable; read a later version.',
        });
      }
      start = 0;
    }
    this.checkContiguous(listing, start, end);
    let timestampMs: number;
    if (start <= end) timestampMs = await this.replayCommits(replay, listing, start, end);
    else {
      // The snapshot is the checkpoint itself: its commit's timestamp, else the checkpoint's mtime.
      const commit = listing.commits.get(end);
      const checkpointKey = listing.checkpoints.get(end)?.objects[0]?.key;
      if (commit) timestampMs = (await this.metaOf(end, commit)).timestampMs;
      else timestampMs = checkpointKey ? ((await this.context.store.head(checkpointKey))?.lastModifiedMs ?? 0) : 0;
    }
    const snapshot = this.build(replay, timestampMs);
    if (target === undefined || (this.latest === undefined && end === latest)) this.latest = { replay, snapshot };
    return snapshot;
  }

  /** The log listing needed to reach `target`: from `_last_checkpoint` on when it is usable, else all of it. */
  private async listing(target: number | undefined): Promise<LogListing> {
    const { store, tablePath, useCheckpoints } = this.context;
    const prefix = logPrefix(tablePath);
    const last = useCheckpoints ? await readLastCheckpoint(store, tablePath) : undefined;
    if (last && (target === undefined || last.version <= target)) {
      const listing = classifyLog(prefix, await store.listAll(prefix, { startAfter: `${prefix}${padVersion(last.version)}` }));
      if (listing.checkpoints.has(last.version)) return listing;
    }
    return classifyLog(prefix, await store.listAll(prefix));
  }

  private checkContiguous(listing: LogListing, start: number, end: number): void {
    for (let v = start; v <= end; v++) {
      if (!listing.commits.has(v)) {
        const next = minOf([...listing.commits.keys()].filter((x) => x > v));
        throw new TableCorrupt(
          this.context.table,
          end,
          `commit ${padVersion(v)}.json is missing from the log${Number.isFinite(next) ? ` (a gap before version ${next})` : ''}`,
          { hint: 'A commit file was deleted or not copied; restore it from a backup. lakeloop does not guess past a gap.' },
        );
      }
    }
  }

  /** Applies commits start..end (fetched in parallel, applied in order); returns the timestamp of `end`. */
  private async replayCommits(replay: LogReplay, listing: LogListing, start: number, end: number): Promise<number> {
    const versions: number[] = [];
    for (let v = start; v <= end; v++) versions.push(v);
    const { store, table, tablePath } = this.context;
    let endMs = 0;
    const parsed = await mapLimit(versions, 16, async (version) => {
      const key = commitKey(tablePath, version);
      const body = await store.getIfExists(key);
      if (!body) throw new TableCorrupt(table, version, `commit ${key} disappeared while reading the log`);
      const actions = parseCommitFile(body.toString('utf8'), { table, version, file: key });
      const meta = this.remember(version, actions, listing.commits.get(version)?.lastModifiedMs ?? 0);
      if (version === end) endMs = meta.timestampMs;
      return actions;
    });
    parsed.forEach((actions, i) => replay.apply(versions[i] as number, actions, listing.commits.get(versions[i] as number)?.lastModifiedMs));
    return endMs;
  }

  /** The latest version whose timestamp is ≤ `timestampMs` (the newest commits' timestamps are remembered, older ones read again). */
  private async versionAt(timestampMs: number): Promise<number> {
    const prefix = logPrefix(this.context.tablePath);
    const listing = classifyLog(prefix, await this.context.store.listAll(prefix));
    const versions = [...listing.commits.keys()].sort((a, b) => a - b);
    const metas = await mapLimit(versions, 16, (v) => this.metaOf(v, listing.commits.get(v)));
    let found: number | undefined;
    versions.forEach((version, i) => {
      if ((metas[i] as CommitMeta).timestampMs <= timestampMs) found = version;
    });
    if (found === undefined) {
      const first = versions[0];
      const firstAt = first === undefined ? 'none' : new Date((metas[0] as CommitMeta).timestampMs).toISOString();
      throw new LakeloopError(
        'VERSION_NOT_FOUND',
        `Failed to read ${this.context.table} as of ${new Date(timestampMs).toISOString()}: that is before its first commit (version ${first ?? '-'} at ${firstAt})`,
      );
    }
    return found;
  }

  private async metaOf(version: number, info: ObjectInfo | undefined): Promise<CommitMeta> {
    const known = this.commitMeta.get(version);
    if (known) return known;
    const meta = (await this.readCommitMeta(version, info?.lastModifiedMs))?.meta;
    if (!meta) throw new TableCorrupt(this.context.table, version, `commit ${padVersion(version)}.json disappeared while reading the log`);
    return meta;
  }

  private remember(version: number, actions: ParsedActions, lastModifiedMs: number): CommitMeta {
    const info = actions.commitInfo ?? {};
    const timestampMs = typeof info.timestamp === 'number' ? info.timestamp : lastModifiedMs;
    const meta: CommitMeta = {
      timestampMs,
      commitInfo: info,
      numAddedFiles: actions.adds.length,
      numRemovedFiles: actions.removes.length,
      txns: actions.txns.flatMap((t) => (t.appId.startsWith(IDEMPOTENCY_KEY_PREFIX) ? [] : [{ appId: t.appId, version: t.version }])),
    };
    this.commitMeta.delete(version);
    this.commitMeta.set(version, meta);
    // Oldest read first out: a Map iterates in insertion order (a re-read moves a commit to the end).
    for (const oldest of this.commitMeta.keys()) {
      if (this.commitMeta.size <= this.rememberedCommits) break;
      this.commitMeta.delete(oldest);
    }
    return meta;
  }

  private build(replay: LogReplay, timestampMs: number): Snapshot {
    const { table, tablePath, fileColumns } = this.context;
    if (replay.protocol) checkReadable(table, replay.version, replay.protocol);
    const clock = this.context.clock ?? systemClock;
    replay.expireKeys(clock.nowMs());
    return new Snapshot(table, replay, timestampMs, { tablePath, fileColumns, clock });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The largest number, or -1 for none (no spread: logs can hold more versions than a call has arguments). */
function maxOf(values: Iterable<number>): number {
  let max = -1;
  for (const v of values) if (v > max) max = v;
  return max;
}

/** The smallest number, or Infinity for none. */
function minOf(values: Iterable<number>): number {
  let min = Number.POSITIVE_INFINITY;
  for (const v of values) if (v < min) min = v;
  return min;
}
