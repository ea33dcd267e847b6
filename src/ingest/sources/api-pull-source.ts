import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultRetryPolicy, LakeloopError, systemClock, withRetry, type Clock, type RetryPolicy } from '../../core/index.js';
import type { Contract } from '../../contracts/index.js';
import { quoteIdent } from '../../engine/index.js';
import { processTempDir } from '../../storage/index.js';
import type { Lake } from '../../table/index.js';
import { landBatch } from '../bronze-writer.js';
import { loadRawRecords } from '../raw-records.js';
import { PollLoop, type PollHandlers, type PollingSource } from './poll-loop.js';

export interface ApiPullSourceOptions extends PollHandlers<ApiPullPollSummary> {
  readonly lake: Lake;
  readonly contract: Contract;
  /** The endpoint, without the cursor parameter (`http://127.0.0.1:8080/v1/orders?limit=100`). */
  readonly url: string;
  /** The query parameter the cursor is sent in (`cursor`, `starting_after`). */
  readonly cursorParam: string;
  /** Dotted path of the items array in the response body; default: the body when it is an array, else `items`. */
  readonly itemsPath?: string;
  /** Dotted path of the next page's cursor; default `nextCursor`. Absent or null: the last page. */
  readonly nextCursorPath?: string;
  /** Sent with every request (e.g. `authorization`); never printed. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The interval `start()` uses when given none. */
  readonly intervalMs: number;
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Retries of 5xx, 429 and network errors (default: 5 attempts, 50 ms base, 5 s cap). */
  readonly retry?: RetryPolicy;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /** Pages fetched by one poll at most (default 100): a long backlog is landed over several polls. */
  readonly maxPagesPerPoll?: number;
  readonly clock?: Clock;
}

/** One page landed by a poll. */
export interface PulledPage {
  /** The page's sequence number: its txn version under `pull:<source>:<url>`. */
  readonly page: number;
  /** The cursor it was requested with (undefined: the first page). */
  readonly cursor: string | undefined;
  /** The cursor of the page after it (undefined: it was the last). */
  readonly next: string | undefined;
  readonly received: number;
  readonly landed: number;
  readonly quarantined: number;
}

/** Where a pull resumes: read back from the latest bronze commit of its txn appId. */
export interface PullPosition {
  /** The last page committed (0: none yet). */
  readonly page: number;
  /** The cursor to request next; undefined with `page` > 0: the feed ended (the last page had no next cursor). */
  readonly next: string | undefined;
}

/** What one `pollOnce()` did. */
export interface ApiPullPollSummary {
  readonly source: string;
  readonly appId: string;
  readonly resumedFrom: PullPosition;
  readonly pages: readonly PulledPage[];
  readonly landed: number;
  readonly quarantined: number;
  /** Requests repeated after a 5xx, 429 or network error. */
  readonly retries: number;
  /** true when the poll stopped because the API had nothing more (an empty page or no next cursor). */
  readonly caughtUp: boolean;
  /** Why the poll stopped early; pages landed before it stay landed. A 4xx is not retried. */
  readonly error?: { readonly code: string; readonly message: string; readonly status?: number };
}

/**
 * A scheduled, paginated HTTP GET into bronze. Each page's items are one batch, landed by
 * `landBatch` under txn (`pull:<source>:<url>`, page number), and the commit records the
 * page's request cursor and the next cursor as its source offset
 * (`commitInfo.lakeloop.sourceOffset` = `page=3&cursor=…&next=…`). The position to resume
 * from is read back from bronze's log, so a restart continues after the last committed
 * page and a page is never landed twice, even when the process dies between fetching and
 * committing.
 *
 * @example
 * const pull = new ApiPullSource({ lake, contract, url: 'http://127.0.0.1:9000/events', cursorParam: 'cursor', intervalMs: 60_000 });
 * const summary = await pull.pollOnce(); // { pages: [...], caughtUp: true }
 */
export class ApiPullSource implements PollingSource<ApiPullPollSummary> {
  readonly source: string;
  readonly appId: string;
  private readonly loop: PollLoop<ApiPullPollSummary>;
  private readonly clock: Clock;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ApiPullSourceOptions) {
    this.source = options.contract.source;
    this.appId = `pull:${this.source}:${options.url}`;
    this.clock = options.clock ?? systemClock;
    this.fetch = options.fetch ?? globalThis.fetch;
    new URL(options.url); // a malformed URL fails here, not on the first poll
    this.loop = new PollLoop(() => this.poll(), options);
  }

  pollOnce(): Promise<ApiPullPollSummary> {
    return this.loop.run();
  }

  start(intervalMs = this.options.intervalMs): void {
    this.loop.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** The last committed page and the cursor after it, from bronze's log. */
  async position(): Promise<PullPosition> {
    const { lake } = this.options;
    const name = `bronze.${this.source}`;
    const table = await lake.tableIfExists(name);
    if (!table) return { page: 0, next: undefined };
    const page = (await table.snapshot()).txns.get(this.appId);
    if (page === undefined) return { page: 0, next: undefined };
    // The newest commits come first: the page's commit is near the top unless other producers wrote a lot since.
    for (const limit of [20, undefined]) {
      const commit = (await table.history(limit === undefined ? {} : { limit })).find((c) => c.txns.some((t) => t.appId === this.appId && t.version === page));
      if (commit) {
        const lakeloop = commit.commitInfo['lakeloop'] as { sourceOffset?: unknown } | undefined;
        const offset = new URLSearchParams(String(lakeloop?.sourceOffset ?? ''));
        return { page, next: offset.get('next') ?? undefined };
      }
    }
    throw new LakeloopError('CURSOR_LOST', `Failed to resume ${this.appId}: the commit of page ${page} is no longer in ${name}'s log`, {
      hint: 'Its JSON commit was cleaned up. Restart the pull from a known cursor under a new url or source name.',
    });
  }

  private async poll(): Promise<ApiPullPollSummary> {
    const resumedFrom = await this.position();
    const pages: PulledPage[] = [];
    const retries = { count: 0 };
    const maxPages = this.options.maxPagesPerPoll ?? 100;
    let page = resumedFrom.page;
    let cursor = resumedFrom.next;
    let caughtUp = resumedFrom.page > 0 && resumedFrom.next === undefined;
    let error: ApiPullPollSummary['error'];
    try {
      for (let fetched = 0; !caughtUp && fetched < maxPages; fetched++) {
        const body = await this.fetchPage(cursor, retries);
        const items = itemsOf(body, this.options.itemsPath);
        const next = cursorOf(body, this.options.nextCursorPath ?? 'nextCursor');
        if (items.length === 0) {
          // Nothing to land; an advancing cursor is followed but not recorded (a restart re-reads the empty page).
          if (next === undefined || next === cursor) caughtUp = true;
          else cursor = next;
          continue;
        }
        page += 1;
        pages.push(await this.land(items, page, cursor, next));
        cursor = next;
        if (next === undefined) caughtUp = true;
      }
    } catch (failure) {
      error = {
        code: failure instanceof LakeloopError ? failure.code : 'INTERNAL',
        message: failure instanceof Error ? failure.message : String(failure),
        ...(failure instanceof PullHttpError ? { status: failure.status } : {}),
      };
    }
    return {
      source: this.source,
      appId: this.appId,
      resumedFrom,
      pages,
      landed: pages.reduce((sum, p) => sum + p.landed, 0),
      quarantined: pages.reduce((sum, p) => sum + p.quarantined, 0),
      retries: retries.count,
      caughtUp,
      ...(error ? { error } : {}),
    };
  }

  private async fetchPage(cursor: string | undefined, retries: { count: number }): Promise<unknown> {
    const url = new URL(this.options.url);
    if (cursor !== undefined) url.searchParams.set(this.options.cursorParam, cursor);
    const shown = `GET ${url.origin}${url.pathname}`;
    return withRetry(
      async () => {
        let response: Response;
        try {
          response = await this.fetch(url, { headers: { accept: 'application/json', ...this.options.headers }, signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
        } catch (cause) {
          throw new LakeloopError('API_UNREACHABLE', `Failed to ${shown}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, retryable: true });
        }
        if (!response.ok) {
          const text = (await response.text().catch(() => '')).slice(0, 300);
          const retryable = response.status >= 500 || response.status === 429;
          throw new PullHttpError(response.status, `Failed to ${shown}: HTTP ${response.status}${text ? `: ${text}` : ''}`, retryable);
        }
        try {
          return (await response.json()) as unknown;
        } catch (cause) {
          throw new LakeloopError('API_BAD_BODY', `Failed to ${shown}: the response is not JSON`, { cause });
        }
      },
      {
        isRetryable: (e) => e instanceof LakeloopError && e.retryable,
        policy: this.options.retry ?? defaultRetryPolicy,
        clock: this.clock,
        onRetry: () => {
          retries.count += 1;
        },
      },
    );
  }

  private async land(items: readonly unknown[], page: number, cursor: string | undefined, next: string | undefined): Promise<PulledPage> {
    const { lake, contract } = this.options;
    const spoolDir = await processTempDir('pull');
    const table = `__ll_pull_${randomBytes(6).toString('hex')}`;
    try {
      const file = join(spoolDir, `page-${page}.ndjson`);
      await writeFile(file, items.map((item) => `${JSON.stringify(item)}\n`).join(''));
      const raw = await loadRawRecords(lake.engine, file, 'ndjson', table, spoolDir, 0, new Map(contract.columns.map((c) => [c.name, c.duckdbType])));
      const offset = new URLSearchParams({ page: String(page), ...(cursor === undefined ? {} : { cursor }), ...(next === undefined ? {} : { next }) });
      const result = await landBatch({ lake, contract, raw, batch: { appId: this.appId, version: page, sourceOffset: offset.toString() }, clock: this.clock });
      return { page, cursor, next, received: result.received, landed: result.landed, quarantined: result.quarantined };
    } finally {
      await lake.engine.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
      await rm(spoolDir, { recursive: true, force: true });
    }
  }
}

/** A non-2xx answer: 5xx and 429 are retried, any other status is reported. */
class PullHttpError extends LakeloopError {
  constructor(
    readonly status: number,
    message: string,
    retryable: boolean,
  ) {
    super(retryable ? 'API_UNAVAILABLE' : 'API_REJECTED', message, { retryable, ...(retryable ? {} : { hint: 'Check the url, cursorParam and headers (credentials) of the source.' }) });
  }
}

function at(body: unknown, path: string): unknown {
  let value = body;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function itemsOf(body: unknown, path: string | undefined): unknown[] {
  const items = path !== undefined ? at(body, path) : Array.isArray(body) ? body : at(body, 'items');
  if (!Array.isArray(items)) {
    throw new LakeloopError('API_BAD_BODY', `Failed to read the page: no items array at ${path ?? '(the body or items)'}`, { hint: 'Set itemsPath to where the response holds its records.' });
  }
  return items;
}

function cursorOf(body: unknown, path: string): string | undefined {
  const value = at(body, path);
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
