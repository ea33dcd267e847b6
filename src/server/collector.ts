import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { LakeloopError, type Clock } from '../core/index.js';
import type { Contract } from '../contracts/index.js';
import { Backpressure, MicroBatcher, RequestRefused, splitRequestBody, type BatcherStats, type RequestOutcome } from '../ingest/index.js';
import type { Metrics } from '../observe/index.js';
import { processTempDir } from '../storage/index.js';
import type { Lake } from '../table/index.js';
import type { EndpointHandler, RouteHandler } from './routes.js';

/** Default request body limit: 16 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Default server-wide budget of request body bytes in flight: 256 MiB (raised to 4 × `maxBodyBytes` when that is more). */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 256 * 1024 * 1024;

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

export interface CollectorOptions {
  readonly lake: Lake;
  /** The sources it accepts, by name (`loadContracts`). */
  readonly contracts: ReadonlyMap<string, Contract>;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0: any free port (read it from `port` after `create`). */
  readonly port?: number;
  /** Larger bodies get 413; default 16 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * Request body bytes the whole server holds at once, from the first byte read until the
   * request is answered (its batch committed): a request whose Content-Length would pass it
   * gets 429 with `Retry-After` before its body is read, a chunked one when it reads past it
   * (and its connection is closed). Default 256 MiB, or 4 × `maxBodyBytes` when that is more;
   * at least `maxBodyBytes`.
   */
  readonly maxInFlightBytes?: number;
  /** Names this collector's batch stream (txn appId `collector:<source>:<instanceId>`); default `<hostname>-<port>`. */
  readonly instanceId?: string;
  /** Per-source uncommitted bytes above which requests get 429; default 4 × the batch's maxBytes. */
  readonly maxPendingBytes?: number;
  readonly clock?: Clock;
  /** Counts every request's records: received when accepted, then landed, quarantined, skipped or failed. */
  readonly metrics?: Metrics;
  /** More read-only endpoints (`GET`/`HEAD`), by exact path, e.g. `observeRoutes(...)`'s `/metrics` and `/status`. */
  readonly routes?: Readonly<Record<string, RouteHandler>>;
  /** Endpoints that answer requests themselves (any method, streams such as SSE), by exact path; checked before `routes`. */
  readonly endpoints?: Readonly<Record<string, EndpointHandler>>;
  /** Told of every answered request whose records committed (not a duplicate), e.g. to log what landed per batch. */
  readonly onLanding?: (outcome: RequestOutcome) => void;
}

/**
 * The HTTP collector (SPEC §5): `POST /ingest/<source>` with an NDJSON body (or a JSON
 * array) and an optional `Idempotency-Key`, answered only after the records are committed
 * to bronze (rejects to quarantine), with the request's own counts; `GET /healthz`.
 * Status codes: 200 committed (or a duplicate key), 400 nothing valid (the rejects listed,
 * and quarantined), 404 unknown source, 405 wrong method, 413 body over the limit, 429
 * backpressure and 503 a failed batch or shutting down (both with `Retry-After`).
 *
 * @example
 * const collector = await Collector.create({ lake, contracts, port: 0 });
 * await fetch(`${collector.url}/ingest/orders`, { method: 'POST', body: '{"order_id":"a"}\n' });
 * await collector.close();
 */
export class Collector {
  private readonly batchers = new Map<string, Promise<MicroBatcher>>();
  /** The last batch each source's requests were answered from: a new id is a new batch (batches land one at a time). */
  private readonly lastBatchIds = new Map<string, string>();
  /** The batchers that have started, by source: their backpressure is checked before a body is read. */
  private readonly readyBatchers = new Map<string, MicroBatcher>();
  /** Body bytes reserved by requests not yet answered (see `maxInFlightBytes`). */
  private inFlightBytes = 0;
  private readonly maxBodyBytes: number;
  private readonly maxInFlightBytes: number;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: CollectorOptions,
    private readonly server: Server,
    private readonly spoolDir: string,
    readonly host: string,
    readonly port: number,
    readonly instanceId: string,
  ) {
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxInFlightBytes = options.maxInFlightBytes ?? Math.max(DEFAULT_MAX_IN_FLIGHT_BYTES, 4 * this.maxBodyBytes);
  }

  /** Body bytes held by requests not yet answered. */
  get inFlight(): number {
    return this.inFlightBytes;
  }

  /** Starts listening; batchers (and their sequence recovery) start with each source's first request. */
  static async create(options: CollectorOptions): Promise<Collector> {
    const host = options.host ?? '127.0.0.1';
    const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (options.maxInFlightBytes !== undefined && !(options.maxInFlightBytes >= maxBody)) {
      throw new LakeloopError('COLLECTOR_OPTIONS', `Failed to start the collector: maxInFlightBytes (${options.maxInFlightBytes}) is below maxBodyBytes (${maxBody})`, {
        hint: 'Give --max-in-flight-bytes at least --max-body-bytes, or no request of the largest size could ever be read.',
      });
    }
    const spoolDir = await processTempDir('collector');
    let collector: Collector | undefined;
    const server = createServer((req, res) => {
      if (!collector) return sendJson(res, 503, { error: 'starting', hint: 'Retry shortly.' }, { 'retry-after': '1' });
      collector.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: `Internal error: ${error instanceof Error ? error.message : String(error)}`, hint: 'A bug; please report it.' });
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await rm(spoolDir, { recursive: true, force: true });
      throw new LakeloopError('LISTEN', `Failed to listen on ${host}:${options.port ?? 0}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
        hint: 'Choose another --port (0 picks a free one) or stop the process using it.',
      });
    }
    const port = (server.address() as AddressInfo).port;
    collector = new Collector(options, server, spoolDir, host, port, options.instanceId ?? `${hostname()}-${port}`);
    return collector;
  }

  /** `http://host:port`. */
  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** Counters of every source that has received a request. */
  async counters(): Promise<Record<string, BatcherStats>> {
    const out: Record<string, BatcherStats> = {};
    for (const [source, batcher] of this.batchers) out[source] = (await batcher).counters();
    return out;
  }

  /**
   * Graceful stop: accepts no new connection or request, commits every open batch and
   * answers its requests, then closes the remaining connections. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      const batchers = await Promise.allSettled([...this.batchers.values()]);
      await Promise.all(batchers.map((b) => (b.status === 'fulfilled' ? b.value.close() : undefined)));
      this.server.closeIdleConnections();
      const timeout = setTimeout(() => this.server.closeAllConnections(), 2_000);
      await serverClosed;
      clearTimeout(timeout);
      await rm(this.spoolDir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  private batcherOf(contract: Contract): Promise<MicroBatcher> {
    let batcher = this.batchers.get(contract.source);
    if (!batcher) {
      batcher = MicroBatcher.create({
        lake: this.options.lake,
        contract,
        instanceId: this.instanceId,
        spoolDir: this.spoolDir,
        ...(this.options.clock ? { clock: this.options.clock } : {}),
        ...(this.options.maxPendingBytes !== undefined ? { maxPendingBytes: this.options.maxPendingBytes } : {}),
      });
      this.batchers.set(contract.source, batcher);
      batcher.then((ready) => this.readyBatchers.set(contract.source, ready), () => undefined);
      // a failed start (e.g. an unreadable table) is retried by the next request
      batcher.catch(() => this.batchers.delete(contract.source));
    }
    return batcher;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://collector');
    } catch {
      return sendJson(res, 400, { error: `Failed to parse the request target ${JSON.stringify(req.url)}: not a URL path`, hint: 'Request a path such as /ingest/<source>.' });
    }
    if (this.closing) res.setHeader('connection', 'close');
    if (url.pathname === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
      return sendJson(res, 200, { ok: true });
    }
    const endpoint = this.options.endpoints?.[url.pathname];
    if (endpoint) return endpoint(req, res, url);
    const route = this.options.routes?.[url.pathname];
    if (route) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
      const reply = await route(url);
      res.writeHead(reply.status ?? 200, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : reply.body);
      return;
    }
    const match = /^\/ingest\/([^/]+)\/?$/.exec(url.pathname);
    if (!match) {
      const more = [...Object.keys(this.options.routes ?? {}), ...Object.keys(this.options.endpoints ?? {})].sort().map((path) => `, ${path}`).join('');
      return sendJson(res, 404, { error: `No route ${url.pathname}`, hint: `POST records to /ingest/<source>; GET /healthz${more}.` });
    }
    let source: string;
    try {
      source = decodeURIComponent(match[1] ?? '');
    } catch {
      return sendJson(res, 400, {
        error: `Failed to decode the source name ${JSON.stringify(match[1])}: bad percent-encoding`,
        hint: 'Percent-encode the source name as UTF-8 (%XX per byte), or send it unencoded.',
      });
    }
    if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
    const contract = this.options.contracts.get(source);
    if (!contract) {
      const known = [...this.options.contracts.keys()].sort();
      return sendJson(res, 404, {
        error: `Unknown source ${JSON.stringify(source)}`,
        hint: known.length ? `Known sources: ${known.join(', ')}.` : 'No source is defined: add contracts/<source>.ts.',
        sources: known,
      });
    }
    const key = headerOf(req, 'idempotency-key');
    if (key !== undefined && !KEY_PATTERN.test(key)) {
      return sendJson(res, 400, { error: 'Invalid Idempotency-Key', hint: 'Use 1 to 200 printable ASCII characters without spaces.' });
    }
    const declared = declaredLength(req);
    if (declared !== undefined && declared > this.maxBodyBytes) return this.tooLarge(req, res);
    // Refusals below come before the body is read: Node discards it as it arrives, none of it is kept.
    const ready = this.readyBatchers.get(source);
    if (ready && !ready.admits(declared ?? 0)) {
      const error = new Backpressure(source, ready.retryAfterSeconds);
      return sendJson(res, 429, { error: error.message, hint: error.hint }, { 'retry-after': String(error.retryAfterSeconds) });
    }
    const reservation = { bytes: 0 };
    res.once('close', () => {
      this.inFlightBytes -= reservation.bytes;
      reservation.bytes = 0;
    });
    if (declared !== undefined && !this.reserve(reservation, declared)) return this.busy(res, false);
    const body = await this.readBody(req, res, reservation, declared !== undefined);
    if (body === undefined) return;
    if (this.closing) return sendJson(res, 503, { error: 'The collector is shutting down', hint: 'Retry shortly (another instance, or after restart).' }, { 'retry-after': '1' });
    let outcome: RequestOutcome;
    // records the batcher took on (0 when refused, or a repeat of a known key): counted as received now, so a backlog shows
    let accepted = 0;
    try {
      const batcher = await this.batcherOf(contract);
      const before = batcher.counters().records;
      const submitted = batcher.submit(body, key);
      accepted = batcher.counters().records - before;
      this.options.metrics?.recordReceived(source, accepted);
      outcome = await submitted;
    } catch (error) {
      this.options.metrics?.recordFailed(source, accepted);
      if (error instanceof RequestRefused) {
        return sendJson(res, 400, { error: error.message, hint: error.hint, source, records: error.records, landed: 0, quarantined: 0, refused: error.records, rejects: [] });
      }
      if (error instanceof Backpressure) return sendJson(res, 429, { error: error.message, hint: error.hint }, { 'retry-after': String(error.retryAfterSeconds) });
      if (error instanceof LakeloopError && error.retryable) return sendJson(res, 503, { error: error.message, hint: error.hint }, { 'retry-after': '1' });
      throw error;
    }
    this.count(outcome, accepted, body);
    if (!outcome.duplicate && outcome.records > 0) this.options.onLanding?.(outcome);
    const reply = {
      source: outcome.source,
      records: outcome.records,
      landed: outcome.landed,
      quarantined: outcome.quarantined,
      duplicate: outcome.duplicate,
      batchId: outcome.batchId,
      bronzeVersion: outcome.bronzeVersion,
      summarised: outcome.summarised,
    };
    if (outcome.records === 0 && !outcome.duplicate) {
      return sendJson(res, 400, { error: 'The request has no records', hint: 'Send NDJSON (one JSON object per line) or a JSON array.', ...reply, rejects: [] });
    }
    if (!outcome.duplicate && outcome.landed === 0) {
      return sendJson(res, 400, {
        error: `No valid record in the request: all ${outcome.quarantined} were quarantined`,
        hint: `See the reasons below, or: lakeloop query "select line, reason, field, payload from quarantine.${source} where batch_id = '${outcome.batchId}'"`,
        ...reply,
        rejects: outcome.rejects,
      });
    }
    return sendJson(res, 200, { ...reply, rejects: outcome.rejects });
  }

  /** Feeds the metrics with one answered request: its records' fate, its bytes, and its batch when that is new. */
  private count(outcome: RequestOutcome, accepted: number, body: Buffer): void {
    const { metrics } = this.options;
    if (!metrics) return;
    const { source } = outcome;
    if (outcome.duplicate) {
      const records = accepted > 0 ? accepted : splitRequestBody(body).records;
      metrics.recordLanding({ source, received: records, landed: 0, quarantined: 0, duplicates: records, files: 0, addedColumns: [] }, { receivedCounted: accepted > 0 });
      return;
    }
    if (outcome.records === 0) return;
    const newBatch = outcome.batchId !== null && this.lastBatchIds.get(source) !== outcome.batchId;
    if (newBatch && outcome.batchId !== null) this.lastBatchIds.set(source, outcome.batchId);
    metrics.recordLanding(
      {
        source,
        received: outcome.records,
        landed: outcome.landed,
        quarantined: outcome.quarantined,
        duplicates: 0,
        files: 0,
        addedColumns: [],
        batches: newBatch ? 1 : 0,
        bytes: body.length,
        ...(typeof outcome.bronzeVersion === 'number' ? { bronzeVersion: outcome.bronzeVersion } : {}),
      },
      { receivedCounted: true },
    );
  }

  /** Adds `bytes` to the request's reservation, or returns false when the server-wide budget has no room for them. */
  private reserve(reservation: { bytes: number }, bytes: number): boolean {
    if (this.inFlightBytes + bytes > this.maxInFlightBytes) return false;
    this.inFlightBytes += bytes;
    reservation.bytes += bytes;
    return true;
  }

  /** 429: the in-flight budget is spent; a request whose body was partly read loses its connection (the rest is not read). */
  private busy(res: ServerResponse, partlyRead: boolean, req?: IncomingMessage): void {
    sendJson(
      res,
      429,
      {
        error: `The collector is busy: ${this.inFlightBytes} bytes of requests are in flight, the limit is ${this.maxInFlightBytes}`,
        hint: 'Retry after 1 s with the same Idempotency-Key (or raise --max-in-flight-bytes).',
      },
      { 'retry-after': '1', ...(partlyRead ? { connection: 'close' } : {}) },
    );
    if (partlyRead && req) res.once('finish', () => req.socket.destroySoon());
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse): void {
    sendJson(res, 413, { error: `Request body over the limit of ${this.maxBodyBytes} bytes`, hint: 'Split the records into several requests.' }, { connection: 'close' });
    res.once('finish', () => req.socket.destroySoon());
  }

  /**
   * The body, or undefined after answering 413 or 429 (reading stops at the limit; nothing
   * more is kept). Without a declared length each chunk is reserved in the in-flight budget
   * as it arrives.
   */
  private readBody(req: IncomingMessage, res: ServerResponse, reservation: { bytes: number }, reserved: boolean): Promise<Buffer | undefined> {
    const limit = this.maxBodyBytes;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      const refuse = (answer: () => void): void => {
        refused = true;
        req.off('data', onData);
        req.pause();
        chunks.length = 0;
        answer();
        resolve(undefined);
      };
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size > limit) return refuse(() => this.tooLarge(req, res));
        if (!reserved && !this.reserve(reservation, chunk.length)) return refuse(() => this.busy(res, true, req));
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () => {
        if (!refused) resolve(Buffer.concat(chunks, size));
      });
      req.once('error', reject);
    });
  }
}

/** The request's Content-Length, when it declares one. */
function declaredLength(req: IncomingMessage): number | undefined {
  const value = Number(headerOf(req, 'content-length') ?? NaN);
  return Number.isFinite(value) ? value : undefined;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function methodNotAllowed(res: ServerResponse, allowed: string): void {
  sendJson(res, 405, { error: `Method not allowed; use ${allowed}`, hint: `This path accepts ${allowed} only.` }, { allow: allowed });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
