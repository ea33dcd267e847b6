import { setMaxListeners } from 'node:events';
import { backoffDelayMs, defaultRetryPolicy, systemClock, type Clock } from '../core/index.js';
import { SAMPLE_SOURCES, SampleEventGenerator, type SampleEvent, type SampleRates, type SampleSource } from './sample-events.js';

export interface SampleFeedOptions {
  /** The collector's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly eventsPerSecond: number;
  /** Default: from the start time, so two runs never send the same ids. */
  readonly seed?: number;
  readonly rates?: Partial<SampleRates>;
  /** Records per request; default 100. */
  readonly recordsPerRequest?: number;
  /** A source's partial request is sent after waiting this long; default 500 ms. */
  readonly maxWaitMs?: number;
  /** Requests awaiting their answer, per source; default 16. */
  readonly maxInFlight?: number;
  readonly clock?: Clock;
  /** Told about requests the feed gave up on (an unexpected status, the collector unreachable). */
  readonly onError?: (message: string) => void;
}

/** What the feed has sent: records the collector answered for (200 or 400), by kind. */
export interface SampleFeedCounts {
  readonly sent: number;
  readonly duplicates: number;
  readonly late: number;
  readonly malformed: number;
  /** As the collector answered: landed in bronze, and quarantined. */
  readonly landed: number;
  readonly quarantined: number;
  readonly requests: number;
  /** Re-sends after 429/503 (`Retry-After`) or a dropped connection. */
  readonly retries: number;
  /** Records given up on: an unexpected answer, too many failed attempts, or stopped while waiting to retry. */
  readonly unsent: number;
}

interface Queued {
  readonly event: SampleEvent;
  readonly queuedMs: number;
}

const TICK_MS = 50;
const MAX_NETWORK_ATTEMPTS = 5;

/**
 * The sample feed behind `npm start`: posts `SampleEventGenerator` events to a collector
 * as NDJSON requests of about `recordsPerRequest` records per source, paced at
 * `eventsPerSecond`. Honours 429/503 `Retry-After` (re-sending the same body), re-sends
 * after a dropped connection (at least once: silver keeps one row per key), and stops
 * generating while too much is waiting rather than buffering without bound. `stop()` sends
 * nothing new, waits for the requests in flight to be answered, and gives up retries.
 *
 * @example
 * const feed = SampleFeed.start({ url: collector.url, eventsPerSecond: 200 });
 * feed.counts(); // { sent: 1200, duplicates: 35, late: 24, malformed: 6, ... }
 * await feed.stop();
 */
export class SampleFeed {
  private readonly generator: SampleEventGenerator;
  private readonly clock: Clock;
  private readonly perRequest: number;
  private readonly maxWaitMs: number;
  private readonly maxInFlight: number;
  private readonly queues = new Map<SampleSource, Queued[]>(SAMPLE_SOURCES.map((s) => [s, []]));
  private readonly inFlight = new Map<SampleSource, number>(SAMPLE_SOURCES.map((s) => [s, 0]));
  private readonly sending = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly startMs: number;
  private generated = 0;
  private readonly tally = { sent: 0, duplicates: 0, late: 0, malformed: 0, landed: 0, quarantined: 0, requests: 0, retries: 0, unsent: 0 };
  private readonly loop: Promise<void>;

  private constructor(private readonly options: SampleFeedOptions) {
    if (!(options.eventsPerSecond > 0)) throw new RangeError(`eventsPerSecond must be positive, got ${options.eventsPerSecond}`);
    this.clock = options.clock ?? systemClock;
    this.startMs = this.clock.nowMs();
    this.generator = new SampleEventGenerator({ seed: options.seed ?? this.startMs % 0x1_0000_0000, ...options.rates });
    this.perRequest = options.recordsPerRequest ?? 100;
    this.maxWaitMs = options.maxWaitMs ?? 500;
    this.maxInFlight = options.maxInFlight ?? 16;
    // every request waiting to retry listens for the stop
    setMaxListeners(SAMPLE_SOURCES.length * this.maxInFlight + 10, this.abort.signal);
    this.loop = this.run();
  }

  /** Starts sending at once. */
  static start(options: SampleFeedOptions): SampleFeed {
    return new SampleFeed(options);
  }

  counts(): SampleFeedCounts {
    return { ...this.tally };
  }

  /** Stops generating and retrying, then waits for the requests in flight; idempotent. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    while (this.sending.size > 0) await Promise.allSettled([...this.sending]);
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    const cap = Math.max(2 * this.perRequest, this.options.eventsPerSecond * 2);
    while (!this.stopping) {
      const now = this.clock.nowMs();
      const due = Math.floor(((now - this.startMs) * this.options.eventsPerSecond) / 1000);
      let queued = 0;
      for (const queue of this.queues.values()) queued += queue.length;
      while (this.generated < due && queued < cap) {
        const event = this.generator.next(now);
        (this.queues.get(event.source) as Queued[]).push({ event, queuedMs: now });
        this.generated++;
        queued++;
      }
      // behind (the collector pushes back): skip the missed events rather than burst later
      this.generated = due;
      this.dispatch(now);
      await this.clock.sleep(TICK_MS, this.abort.signal).catch(() => undefined);
    }
  }

  private dispatch(now: number): void {
    for (const [source, queue] of this.queues) {
      while (
        (this.inFlight.get(source) ?? 0) < this.maxInFlight &&
        (queue.length >= this.perRequest || (queue.length > 0 && now - (queue[0] as Queued).queuedMs >= this.maxWaitMs))
      ) {
        const events = queue.splice(0, this.perRequest).map((q) => q.event);
        this.inFlight.set(source, (this.inFlight.get(source) ?? 0) + 1);
        const sending = this.send(source, events).finally(() => {
          this.inFlight.set(source, (this.inFlight.get(source) ?? 1) - 1);
          this.sending.delete(sending);
        });
        this.sending.add(sending);
      }
    }
  }

  private async send(source: SampleSource, events: readonly SampleEvent[]): Promise<void> {
    const body = events.map((e) => `${e.line}\n`).join('');
    let networkFailures = 0;
    for (;;) {
      let status: number;
      let reply: { landed?: unknown; quarantined?: unknown; error?: unknown } = {};
      let retryAfterSeconds = 1;
      try {
        const response = await fetch(`${this.options.url}/ingest/${source}`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/x-ndjson' },
          signal: AbortSignal.timeout(60_000),
        });
        status = response.status;
        retryAfterSeconds = Number(response.headers.get('retry-after') ?? '1') || 1;
        reply = (await response.json().catch(() => ({}))) as typeof reply;
      } catch (error) {
        networkFailures++;
        if (this.stopping || networkFailures >= MAX_NETWORK_ATTEMPTS) {
          this.giveUp(events, `${source}: ${events.length} records not sent: ${error instanceof Error ? error.message : String(error)}`);
          return;
        }
        this.tally.retries++;
        await this.clock.sleep(backoffDelayMs(defaultRetryPolicy, networkFailures), this.abort.signal).catch(() => undefined);
        continue;
      }
      if (status === 200 || status === 400) {
        this.tally.requests++;
        this.tally.sent += events.length;
        for (const event of events) {
          if (event.kind === 'duplicate') this.tally.duplicates++;
          else if (event.kind === 'late') this.tally.late++;
          else if (event.kind === 'malformed') this.tally.malformed++;
        }
        this.tally.landed += typeof reply.landed === 'number' ? reply.landed : 0;
        this.tally.quarantined += typeof reply.quarantined === 'number' ? reply.quarantined : 0;
        return;
      }
      if ((status === 429 || status === 503) && !this.stopping) {
        this.tally.retries++;
        await this.clock.sleep(retryAfterSeconds * 1000, this.abort.signal).catch(() => undefined);
        if (!this.stopping) continue;
      }
      const why = typeof reply.error === 'string' ? reply.error : this.stopping ? 'stopped while waiting to retry' : 'unexpected answer';
      this.giveUp(events, `${source}: ${events.length} records not sent: HTTP ${status}: ${why}`);
      return;
    }
  }

  private giveUp(events: readonly SampleEvent[], message: string): void {
    this.tally.unsent += events.length;
    // at shutdown, giving up is the plan, not news
    if (!this.stopping) this.options.onError?.(message);
  }
}
