import type { TxnAction } from './actions.js';
import type { IdempotencyKeyTxns, KeyTxn } from './idempotency-keys.js';

/**
 * A snapshot's txns (appId → last version): its own copy of the few long-lived ones plus a
 * view of the idempotency keys shared with later snapshots of the same reader, in which it
 * sees the keys committed at or before its version that have not expired by now (`cutoffMs`
 * is read at each call: a key expires from every snapshot at once, as time passes).
 *
 * @example
 * snapshot.txns.get('collector:orders:host-8080'); // 42
 */
export class SnapshotTxns implements ReadonlyMap<string, number> {
  // ES private fields: not own properties, so two views compare equal (`toEqual`) by their entries.
  readonly #plain: ReadonlyMap<string, number>;
  readonly #keyStore: IdempotencyKeyTxns;
  readonly #version: number;
  /** Keys whose `lastUpdated` is at or before this have expired (-Infinity: none expire). */
  readonly #cutoffMs: () => number;

  constructor(plain: ReadonlyMap<string, number>, keyStore: IdempotencyKeyTxns, version: number, cutoffMs: () => number) {
    this.#plain = plain;
    this.#keyStore = keyStore;
    this.#version = version;
    this.#cutoffMs = cutoffMs;
  }

  get(appId: string): number | undefined {
    const version = this.#plain.get(appId);
    if (version !== undefined) return version;
    const key = this.#keyStore.get(appId);
    return key !== undefined && this.#live(key, this.#cutoffMs()) ? key.version : undefined;
  }

  /** When a live idempotency key was committed (its txn's `lastUpdated`); undefined for any other appId. */
  keyLastUpdated(appId: string): number | undefined {
    const key = this.#keyStore.get(appId);
    return key !== undefined && this.#live(key, this.#cutoffMs()) ? key.lastUpdated : undefined;
  }

  has(appId: string): boolean {
    return this.get(appId) !== undefined;
  }

  /** Idempotency keys the reader holds in memory (live, or expired and not dropped yet): what the window bounds. */
  get keysHeld(): number {
    return this.#keyStore.size;
  }

  /** Counts the live keys: O(keys held), unlike the other lookups. */
  get size(): number {
    let size = this.#plain.size;
    const cutoff = this.#cutoffMs();
    for (const [, key] of this.#keyStore) if (this.#live(key, cutoff)) size++;
    return size;
  }

  /** The live idempotency keys, oldest first, with their time. */
  *keyTxns(): IterableIterator<TxnAction & { readonly lastUpdated: number }> {
    const cutoff = this.#cutoffMs();
    for (const [appId, key] of this.#keyStore) if (this.#live(key, cutoff)) yield { appId, version: key.version, lastUpdated: key.lastUpdated };
  }

  /** Every live txn as a checkpoint writes it: the idempotency keys with their `lastUpdated`, so they expire from it too. */
  *actions(): IterableIterator<TxnAction> {
    for (const [appId, version] of this.#plain) yield { appId, version };
    yield* this.keyTxns();
  }

  *entries(): MapIterator<[string, number]> {
    yield* this.#plain.entries();
    for (const key of this.keyTxns()) yield [key.appId, key.version];
  }

  *keys(): MapIterator<string> {
    for (const [appId] of this.entries()) yield appId;
  }

  *values(): MapIterator<number> {
    for (const [, version] of this.entries()) yield version;
  }

  forEach(callback: (value: number, key: string, map: ReadonlyMap<string, number>) => void, thisArg?: unknown): void {
    for (const [appId, version] of this.entries()) callback.call(thisArg, version, appId, this);
  }

  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries();
  }

  #live(key: KeyTxn, cutoff: number): boolean {
    return key.committedIn <= this.#version && key.lastUpdated > cutoff;
  }
}
