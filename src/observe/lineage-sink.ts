import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { backoffDelayMs, messageOf, type RetryPolicy } from '../core/index.js';

/** Where serialized lineage events go; `write` never throws and never waits, `close` waits for what was written. */
export interface LineageSink {
  /** Queues one event (a JSON text, one line). */
  write(json: string): void;
  /** Waits until every queued event was delivered or given up on (at most `timeoutMs`). */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Appends each event as one line to an NDJSON file (created with its folder), in order.
 *
 * @example
 * const sink = new FileLineageSink('/tmp/lineage.ndjson', (m) => console.warn(m));
 */
export class FileLineageSink implements LineageSink {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly onWarning: (message: string) => void,
  ) {}

  write(json: string): void {
    this.chain = this.chain
      .then(async () => {
        await mkdir(dirname(this.file), { recursive: true });
        await appendFile(this.file, `${json}\n`);
      })
      .catch((error: unknown) => this.onWarning(`Failed to write a lineage event to ${this.file}: ${messageOf(error)}`));
  }

  async close(): Promise<void> {
    await this.chain;
  }
}

/** How the HTTP sink retries one event. */
export const LINEAGE_HTTP_RETRY: RetryPolicy = Object.freeze({ attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 });

/**
 * POSTs each event to an OpenLineage HTTP endpoint (Marquez: `http://host:5000/api/v1/lineage`),
 * in order, retrying with backoff; an event that still fails becomes a warning, never an
 * error of the run that emitted it.
 *
 * @example
 * const sink = new HttpLineageSink('http://127.0.0.1:5000/api/v1/lineage', (m) => log.warn(m));
 */
export class HttpLineageSink implements LineageSink {
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** After an event was given up on, the next ones get one attempt each until one succeeds: a dead endpoint costs no waiting. */
  private down = false;

  constructor(
    private readonly url: string,
    private readonly onWarning: (message: string) => void,
    private readonly options: { readonly policy?: RetryPolicy; readonly timeoutMs?: number } = {},
  ) {}

  write(json: string): void {
    this.chain = this.chain.then(() => this.send(json));
  }

  async close(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.chain.then(() => 'done' as const), gaveUp]);
    clearTimeout(timer);
    // Whatever is still queued is dropped (not retried past the process's end).
    this.closed = true;
    if (result === 'timeout') this.onWarning(`Failed to deliver lineage events to ${this.url}: still retrying after ${timeoutMs / 1000} s; the rest are dropped`);
  }

  private async send(json: string): Promise<void> {
    const policy = this.options.policy ?? LINEAGE_HTTP_RETRY;
    let last = '';
    const attempts = this.down ? 1 : policy.attempts;
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      try {
        const response = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: json,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) {
          this.down = false;
          return;
        }
        last = `HTTP ${response.status}`;
        // A 4xx other than 408/429 will not succeed on a retry.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
      } catch (error) {
        last = messageOf(error);
      }
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, Math.max(50, backoffDelayMs(policy, attempt))));
    }
    this.down = true;
    this.onWarning(`Failed to deliver a lineage event to ${this.url}: ${last || 'stopped'}`);
  }
}

