import { LakeloopError } from '../core/index.js';

/**
 * The appId prefix of an idempotency key's txn (`key:<source>:<K>`, one per keyed collector
 * request). These are the only txns that expire: a batch sequence (`collector:…`), a file's
 * batches (`ingest:…`, `ingest-cut:…`), a file drop's marks (`filedrop:…`) and a pull's pages
 * (`pull:…`) stay for ever, so re-ingesting a file stays a no-op however late it comes.
 */
export const IDEMPOTENCY_KEY_PREFIX = 'key:';

/**
 * The table property holding how long a table keeps its idempotency keys' txns, as a Delta
 * interval (`interval 15 minutes`); without it they never expire. Delta's own
 * `delta.setTransactionRetentionDuration` is not used: it would expire every txn for other
 * readers (and drop them from checkpoints Spark or delta-rs write), file ingest's included.
 */
export const IDEMPOTENCY_KEY_RETENTION = 'lakeloop.idempotencyKeyRetentionDuration';

const INTERVAL_UNITS: readonly (readonly [string, number])[] = [
  ['week', 604_800_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1_000],
  ['millisecond', 1],
];
const INTERVAL = /^\s*interval\s+(\d+)\s+(week|day|hour|minute|second|millisecond)s?\s*$/i;

/**
 * A duration as a Delta table property writes it, in its largest whole unit.
 *
 * @example
 * formatInterval(900_000) // 'interval 15 minutes'
 */
export function formatInterval(ms: number): string {
  const [unit, size] = INTERVAL_UNITS.find(([, unitMs]) => ms % unitMs === 0) ?? ['millisecond', 1];
  const count = ms / size;
  return `interval ${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** Milliseconds of a Delta interval (`interval 1 hour`, `interval 30 minutes`); throws on anything else. */
export function parseInterval(text: string): number {
  const match = INTERVAL.exec(text);
  if (!match) {
    throw new LakeloopError('USAGE', `${JSON.stringify(text)} is not an interval`, { hint: 'Write it as Delta does: interval 15 minutes, interval 1 hour, interval 7 days.' });
  }
  const unitMs = INTERVAL_UNITS.find(([unit]) => unit === (match[2] as string).toLowerCase())?.[1] ?? 1;
  return Number(match[1]) * unitMs;
}

/**
 * How long a table's configuration keeps idempotency keys (Infinity: for ever). A value that
 * does not parse keeps them for ever: forgetting a key too early would land a retry twice.
 */
export function keyRetentionMs(configuration: Readonly<Record<string, string>>): number {
  const text = configuration[IDEMPOTENCY_KEY_RETENTION];
  if (text === undefined) return Number.POSITIVE_INFINITY;
  try {
    return parseInterval(text);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** One idempotency key's txn as the log recorded it last. */
export interface KeyTxn {
  readonly version: number;
  /** The `lastUpdated` of its txn (the commit's time, epoch ms). */
  readonly lastUpdated: number;
  /** The table version that recorded it (a snapshot of an older version does not see it). */
  readonly committedIn: number;
}

/**
 * A table's idempotency-key txns in the order they were committed, so that expiring them is
 * cheap: the oldest are first, and `expire` drops from the front until the first live one
 * (amortised O(1) per key, never a scan of all of them). One instance is shared by the
 * successive snapshots of a log reader (see `Snapshot.txns`) instead of being copied per
 * commit: a collector's bronze holds one per request of the window, and copying 100k of them
 * took 19–186 ms per commit.
 */
export class IdempotencyKeyTxns {
  private readonly entries = new Map<string, KeyTxn>();

  /** Records a key's txn, last in the order (a key landed again moves to the end). */
  set(appId: string, txn: KeyTxn): void {
    if (this.entries.has(appId)) this.entries.delete(appId);
    this.entries.set(appId, txn);
  }

  delete(appId: string): void {
    this.entries.delete(appId);
  }

  get(appId: string): KeyTxn | undefined {
    return this.entries.get(appId);
  }

  /** Keys held, live or not yet dropped (see `expire`). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Drops the oldest keys whose `lastUpdated` is at or before `cutoffMs`, stopping at the
   * first newer one. Writers' clocks may disagree a little, so a few expired keys can stay
   * behind a live one until it expires too; readers check each key's time anyway.
   */
  expire(cutoffMs: number): void {
    for (const [appId, txn] of this.entries) {
      if (txn.lastUpdated > cutoffMs) return;
      this.entries.delete(appId);
    }
  }

  [Symbol.iterator](): IterableIterator<[string, KeyTxn]> {
    return this.entries.entries();
  }
}
