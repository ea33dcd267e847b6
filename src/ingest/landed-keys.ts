/** Where a keyed request landed: its batch and bronze version (null when known only from the table's txns). */
export interface LandedKey {
  readonly batchId: string | null;
  readonly bronzeVersion: number | null;
}

/**
 * The idempotency keys a collector knows to be in bronze, each with the time it landed, in
 * landing order: keys older than the window are dropped from the front as time passes
 * (amortised O(1) per key, no scan per batch), so the map holds only the window's keys.
 *
 * @example
 * const keys = new LandedKeys(15 * 60_000);
 * keys.set('key:orders:a', { batchId: 'b1', bronzeVersion: 7 }, clock.nowMs());
 * keys.get('key:orders:a', clock.nowMs()); // { batchId: 'b1', bronzeVersion: 7 } within 15 min, then undefined
 */
export class LandedKeys {
  private readonly entries = new Map<string, LandedKey & { readonly landedAtMs: number }>();

  constructor(private readonly windowMs: number) {}

  /** Records a key as landed at `landedAtMs`, last in the order (a key landed again moves to the end). */
  set(appKey: string, landed: LandedKey, landedAtMs: number): void {
    this.entries.delete(appKey);
    this.entries.set(appKey, { ...landed, landedAtMs });
  }

  /** The key's landing when it is still inside the window at `nowMs`. */
  get(appKey: string, nowMs: number): LandedKey | undefined {
    this.expire(nowMs);
    const entry = this.entries.get(appKey);
    // An entry recorded out of order (a table key older than one landed before it) is checked here.
    return entry !== undefined && entry.landedAtMs > nowMs - this.windowMs ? entry : undefined;
  }

  has(appKey: string): boolean {
    return this.entries.has(appKey);
  }

  /** Keys held (those of the window, plus any out of order behind a newer one). */
  get size(): number {
    return this.entries.size;
  }

  /** Drops the oldest keys that left the window, stopping at the first one inside it. */
  expire(nowMs: number): void {
    const cutoff = nowMs - this.windowMs;
    for (const [appKey, entry] of this.entries) {
      if (entry.landedAtMs > cutoff) return;
      this.entries.delete(appKey);
    }
  }
}
