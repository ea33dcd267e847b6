/**
 * A source that lakeloop polls: one `pollOnce()` does a bounded amount of work and
 * returns what it did; `start()` repeats it on a timer, `stop()` ends that.
 *
 * @example
 * const source = new FileDropSource({ lake, contract, store, prefix: 'incoming/orders/' });
 * source.start(2_000);
 * await source.stop();
 */
export interface PollingSource<Summary> {
  /** The contract's source name (`orders`). */
  readonly source: string;
  pollOnce(): Promise<Summary>;
  /** Polls now and then every `intervalMs` after the previous poll ended (never two at once). */
  start(intervalMs?: number): void;
  /** Cancels the timer and waits for a poll in progress to finish. */
  stop(): Promise<void>;
}

/** What a timed loop reports: each poll's summary, or the error that ended one poll (the loop goes on). */
export interface PollHandlers<Summary> {
  readonly onPoll?: (summary: Summary) => void;
  readonly onError?: (error: unknown) => void;
}

/**
 * Runs `poll` on a timer measured from the end of the previous run, so polls never
 * overlap however long one takes; calls of `run()` made while one is in progress wait for
 * it and then run (one at a time).
 */
export class PollLoop<Summary> {
  private timer: NodeJS.Timeout | undefined;
  private active = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly poll: () => Promise<Summary>,
    private readonly handlers: PollHandlers<Summary> = {},
  ) {}

  /** One poll, queued behind any poll in progress. */
  run(): Promise<Summary> {
    const next = this.chain.then(() => this.poll());
    this.chain = next.catch(() => undefined);
    return next;
  }

  start(intervalMs: number): void {
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new RangeError(`intervalMs must be a positive number, got ${intervalMs}`);
    if (this.active) return;
    this.active = true;
    const tick = (): void => {
      this.timer = undefined;
      void this.run()
        .then(
          (summary) => this.handlers.onPoll?.(summary),
          (error: unknown) => this.handlers.onError?.(error),
        )
        .finally(() => {
          if (this.active) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }
}
