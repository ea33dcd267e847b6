import type { ObjectInfo, ObjectStore } from '../storage/index.js';

/** The key prefix of a table's log: `bronze/orders/_delta_log/` (or `_delta_log/` for a root table). */
export function logPrefix(tablePath: string): string {
  return tablePath === '' ? '_delta_log/' : `${tablePath}/_delta_log/`;
}

/** The key of an object inside a table: `bronze/orders` + `a/b.parquet`. */
export function tableKey(tablePath: string, relative: string): string {
  return tablePath === '' ? relative : `${tablePath}/${relative}`;
}

/** A version as the log names it: 20 digits, zero-padded. */
export function padVersion(version: number): string {
  return String(version).padStart(20, '0');
}

/** The key of commit `version`'s JSON file. */
export function commitKey(tablePath: string, version: number): string {
  return `${logPrefix(tablePath)}${padVersion(version)}.json`;
}

/** The key of a single-file checkpoint. */
export function checkpointKey(tablePath: string, version: number): string {
  return `${logPrefix(tablePath)}${padVersion(version)}.checkpoint.parquet`;
}

/** The key of `_last_checkpoint`. */
export function lastCheckpointKey(tablePath: string): string {
  return `${logPrefix(tablePath)}_last_checkpoint`;
}

/** A checkpoint found in a listing: one file, or all `parts` parts of a multi-part checkpoint. */
export interface CheckpointFiles {
  readonly version: number;
  /** The parts in order, as the listing reported them (key, size, modification time, ETag). */
  readonly objects: readonly ObjectInfo[];
}

/** What a listing of `_delta_log/` holds, by version. */
export interface LogListing {
  /** commit version → its JSON file. */
  readonly commits: Map<number, ObjectInfo>;
  /** complete checkpoints, by version. */
  readonly checkpoints: Map<number, CheckpointFiles>;
}

const COMMIT = /^(\d{20})\.json$/;
const SINGLE_CHECKPOINT = /^(\d{20})\.checkpoint\.parquet$/;
const PART_CHECKPOINT = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;

/**
 * Sorts a `_delta_log/` listing into commits and complete checkpoints. Other files (CRCs,
 * `_last_checkpoint`, temp files, v2/UUID checkpoints a v1 reader must not use) are ignored.
 */
export function classifyLog(prefix: string, objects: readonly ObjectInfo[]): LogListing {
  const commits = new Map<number, ObjectInfo>();
  const single = new Map<number, ObjectInfo>();
  const parts = new Map<number, { total: number; keys: Map<number, ObjectInfo> }[]>();
  for (const object of objects) {
    const name = object.key.slice(prefix.length);
    if (name.includes('/')) continue;
    let match = COMMIT.exec(name);
    if (match) {
      commits.set(Number(match[1]), object);
      continue;
    }
    match = SINGLE_CHECKPOINT.exec(name);
    if (match) {
      single.set(Number(match[1]), object);
      continue;
    }
    match = PART_CHECKPOINT.exec(name);
    if (match) {
      const version = Number(match[1]);
      const part = Number(match[2]);
      const total = Number(match[3]);
      const groups = parts.get(version) ?? [];
      let group = groups.find((g) => g.total === total);
      if (!group) {
        group = { total, keys: new Map() };
        groups.push(group);
      }
      group.keys.set(part, object);
      parts.set(version, groups);
    }
  }
  const checkpoints = new Map<number, CheckpointFiles>();
  for (const [version, object] of single) checkpoints.set(version, { version, objects: [object] });
  for (const [version, groups] of parts) {
    if (checkpoints.has(version)) continue;
    const complete = groups.find((g) => g.keys.size === g.total);
    if (complete) {
      const objects = [...complete.keys.entries()].sort((a, b) => a[0] - b[0]).map(([, object]) => object);
      checkpoints.set(version, { version, objects });
    }
  }
  return { commits, checkpoints };
}

/** The keys of a checkpoint as `_last_checkpoint` describes it (`parts` absent or null: one file). */
export function checkpointKeysFor(tablePath: string, version: number, parts: number | undefined): string[] {
  if (parts === undefined) return [checkpointKey(tablePath, version)];
  const keys: string[] = [];
  for (let i = 1; i <= parts; i++) {
    keys.push(`${logPrefix(tablePath)}${padVersion(version)}.checkpoint.${String(i).padStart(10, '0')}.${String(parts).padStart(10, '0')}.parquet`);
  }
  return keys;
}

/** Whether a table has a `_delta_log` (two HEADs in the usual case, a one-key listing otherwise). */
export async function hasDeltaLog(store: ObjectStore, tablePath: string): Promise<boolean> {
  if (await store.head(commitKey(tablePath, 0))) return true;
  if (await store.head(lastCheckpointKey(tablePath))) return true;
  const page = await store.list(logPrefix(tablePath), { maxKeys: 1 });
  return page.objects.length > 0;
}
