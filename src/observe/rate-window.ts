/**
 * A count of events per one-second bucket over a sliding window, for "events per second
 * over the last minute". Buckets keep the memory bounded however many events arrive.
 *
 * @example
 * const window = new RateWindow(60_000, clock.nowMs());
 * window.add(250, clock.nowMs());
 * window.perSecond(clock.nowMs()); // 250 / seconds elapsed (at most 60)
 */
export class RateWindow {
  private readonly buckets = new Map<number, number>();

  constructor(
    readonly windowMs: number,
    private readonly startMs: number,
  ) {}

  add(count: number, nowMs: number): void {
    if (count <= 0) return;
    const second = Math.floor(nowMs / 1000);
    this.buckets.set(second, (this.buckets.get(second) ?? 0) + count);
    if (this.buckets.size > this.windowMs / 1000 + 2) this.prune(nowMs);
  }

  /** Events in the window ending at `nowMs` (whole seconds: the current one counts). */
  countIn(nowMs: number): number {
    this.prune(nowMs);
    let total = 0;
    for (const count of this.buckets.values()) total += count;
    return total;
  }

  /**
   * Events per second over the window, or over the time since start when that is
   * shorter (at least one second, so the first burst is not read as an infinite rate).
   */
  perSecond(nowMs: number): number {
    const spanMs = Math.max(1000, Math.min(this.windowMs, nowMs - this.startMs));
    return this.countIn(nowMs) / (spanMs / 1000);
  }

  private prune(nowMs: number): void {
    const oldest = Math.floor((nowMs - this.windowMs) / 1000);
    for (const second of this.buckets.keys()) if (second < oldest) this.buckets.delete(second);
  }
}
