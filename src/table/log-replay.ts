import { TableCorrupt } from '../core/index.js';
import type { AddAction, MetaDataAction, ParsedActions, ProtocolAction, RemoveAction } from './actions.js';
import { decodeAddPath } from './partition-paths.js';

/**
 * The table state built by replaying actions in version order: the newest protocol and
 * metaData win, an `add` makes a file live (and clears its tombstone), a `remove` makes it
 * a tombstone, `txn` records the last version per appId. Mutable while building; a
 * `Snapshot` is made from a finished one.
 */
export class LogReplay {
  version = -1;
  protocol: ProtocolAction | undefined;
  metaData: MetaDataAction | undefined;
  /** canonical (decoded) path → live add. */
  readonly files = new Map<string, AddAction>();
  /** canonical (decoded) path → remove, for files removed and not re-added. */
  readonly tombstones = new Map<string, RemoveAction>();
  readonly txns = new Map<string, number>();

  constructor(private readonly table: string) {}

  /** Applies one commit's (or checkpoint's) actions as version `version`. */
  apply(version: number, actions: ParsedActions): void {
    if (actions.protocol) this.protocol = actions.protocol;
    if (actions.metaData) this.metaData = actions.metaData;
    for (const txn of actions.txns) this.txns.set(txn.appId, txn.version);
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

  /** An independent copy, to extend a cached state without changing it. */
  clone(): LogReplay {
    const copy = new LogReplay(this.table);
    copy.version = this.version;
    copy.protocol = this.protocol;
    copy.metaData = this.metaData;
    for (const [k, v] of this.files) copy.files.set(k, v);
    for (const [k, v] of this.tombstones) copy.tombstones.set(k, v);
    for (const [k, v] of this.txns) copy.txns.set(k, v);
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
