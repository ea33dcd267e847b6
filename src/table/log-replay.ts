import { TableCorrupt } from '../core/index.js';
import type { AddAction, MetaDataAction, ParsedActions, ProtocolAction, RemoveAction } from './actions.js';
import { IDEMPOTENCY_KEY_PREFIX, IdempotencyKeyTxns, keyRetentionMs } from './idempotency-keys.js';
import { decodeAddPath } from './partition-paths.js';

/**
 * The table state built by replaying actions in version order: the newest protocol and
 * metaData win, an `add` makes a file live (and clears its tombstone), a `remove` makes it
 * a tombstone, `txn` records the last version per appId (idempotency keys with their time
 * apart, in `keys`, so they can expire). Mutable while building; a `Snapshot` is made from a
 * finished one.
 */
export class LogReplay {
  version = -1;
  protocol: ProtocolAction | undefined;
  metaData: MetaDataAction | undefined;
  /** canonical (decoded) path → live add. */
  readonly files = new Map<string, AddAction>();
  /** canonical (decoded) path → remove, for files removed and not re-added. */
  readonly tombstones = new Map<string, RemoveAction>();
  /** appId → last version, for every txn but the idempotency keys that carry a time. */
  readonly txns = new Map<string, number>();
  /** Idempotency keys (`key:…` with a `lastUpdated`), oldest first; see `expireKeys`. */
  keys = new IdempotencyKeyTxns();

  constructor(private readonly table: string) {}

  /** How long this table keeps idempotency keys (its metaData's property; Infinity: for ever). */
  get keyRetentionMs(): number {
    if (this.retention === undefined || this.retention.of !== this.metaData) {
      this.retention = { of: this.metaData, ms: this.metaData ? keyRetentionMs(this.metaData.configuration) : Number.POSITIVE_INFINITY };
    }
    return this.retention.ms;
  }

  /** Keys without a time among `txns` (another writer's; usually none, so a key's txn need not look there). */
  private timelessKeys = 0;

  /** The retention parsed from the metaData it was read from (parsed again only when a commit changes it). */
  private retention: { of: MetaDataAction | undefined; ms: number } | undefined;

  /** Forgets the idempotency keys older than the table's retention at `nowMs`, so they stop costing memory. */
  expireKeys(nowMs: number): void {
    const retention = this.keyRetentionMs;
    if (Number.isFinite(retention)) this.keys.expire(nowMs - retention);
  }

  /**
   * Applies one commit's (or checkpoint's) actions as version `version`. `writtenMs` is when
   * its file was written, if known: the time of an idempotency key that has no `lastUpdated`
   * and no commit timestamp to take instead (checkpoints of earlier releases dropped
   * `lastUpdated`, so a bronze from before the window would otherwise keep those keys for ever).
   * A key is never older than the commit or checkpoint holding it, so it never expires early.
   */
  apply(version: number, actions: ParsedActions, writtenMs?: number): void {
    if (actions.protocol) this.protocol = actions.protocol;
    if (actions.metaData) this.metaData = actions.metaData;
    const commitMs = typeof actions.commitInfo?.timestamp === 'number' ? actions.commitInfo.timestamp : writtenMs;
    for (const txn of actions.txns) {
      const lastUpdated = typeof txn.lastUpdated === 'number' ? txn.lastUpdated : commitMs;
      // A key of unknown time (another writer's, of unknown date) cannot expire: it stays with the other txns.
      if (txn.appId.startsWith(IDEMPOTENCY_KEY_PREFIX) && lastUpdated !== undefined) {
        if (this.timelessKeys > 0 && this.txns.delete(txn.appId)) this.timelessKeys--;
        this.keys.set(txn.appId, { version: txn.version, lastUpdated, committedIn: version });
      } else {
        if (txn.appId.startsWith(IDEMPOTENCY_KEY_PREFIX)) {
          this.keys.delete(txn.appId);
          if (!this.txns.has(txn.appId)) this.timelessKeys++;
        }
        this.txns.set(txn.appId, txn.version);
      }
    }
    for (const action of actions.fileActions) {
      if ('add' in action) {
        const key = this.canonical(action.add.path, version);
        this.files.set(key, action.add);
        this.tombstones.delete(key);
      } else {
        const key = this.canonical(action.remove.path, version);
        this.files.delete(key);
        this.tombstones.set(key, action.remove);
      }
    }
    this.version = version;
  }

  /** A copy to extend a cached state without changing what that state's snapshots see. */
  clone(): LogReplay {
    const copy = new LogReplay(this.table);
    copy.version = this.version;
    copy.protocol = this.protocol;
    copy.metaData = this.metaData;
    for (const [k, v] of this.files) copy.files.set(k, v);
    for (const [k, v] of this.tombstones) copy.tombstones.set(k, v);
    for (const [k, v] of this.txns) copy.txns.set(k, v);
    // The keys are shared, not copied (a reader following another process's commits would copy
    // them all at each refresh): a snapshot sees only those committed at or before its version,
    // so the keys a failed extension of the copy added stay invisible to the state it came from.
    copy.keys = this.keys;
    copy.retention = this.retention;
    copy.timelessKeys = this.timelessKeys;
    return copy;
  }

  private canonical(path: string, version: number): string {
    try {
      return decodeAddPath(path);
    } catch (error) {
      throw new TableCorrupt(this.table, version, `file path ${JSON.stringify(path)} is not a valid URL-encoded path`, { cause: error });
    }
  }
}
