import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Contract } from '../../contracts/index.js';
import { LakeloopError } from '../../core/index.js';
import type { Model } from '../../models/index.js';
import { listReports, REPORTS_PREFIX, type ReconcileReport } from '../../reconcile/index.js';
import { STATUS_PRECEDENCE, statusCounts, type TablePartitionStatus } from '../../state/index.js';
import type { ObjectStore } from '../../storage/index.js';
import type { EndpointHandler } from '../routes.js';
import type { StreamingActivity, StreamingCycle } from '../streaming-loop.js';
import { ReconcileRequestError, type ConsoleReconcile, type ReconcileRequest, type ReconcileRequester } from './console-reconcile.js';
import { contractChecklist, modelChecklist, type SourceCounts } from './contract-checklist.js';
import type { Decision, DecisionLog } from './decision-log.js';
import { partitionsBehind } from './partitions-behind.js';
import { reportSummary } from './report-summary.js';

/** What the console's controls drive: the streaming loop (`StreamingLoop` is one). */
export interface StreamingControl {
  readonly paused: boolean;
  readonly activity: StreamingActivity | null;
  pause(): Promise<void>;
  resume(): void;
  step(): Promise<StreamingCycle>;
}

/** The project's DAG as the console draws it: sources → bronze → silver → gold. */
export interface LineageGraph {
  /** `source:<name>` for a source, else the table's `layer.name`. */
  readonly nodes: readonly { readonly id: string; readonly layer: string; readonly kind?: string }[];
  readonly edges: readonly { readonly from: string; readonly to: string }[];
}

export interface WebConsoleOptions {
  /** The body of `GET /status`, read on each request. */
  readonly status: () => Readonly<Record<string, unknown>>;
  /** The tables as `lakeloop status --json` prints them (`lakeStatus`); read at most once a second. */
  readonly tables: () => Promise<unknown>;
  /** The jobs with their next fire times and last runs (`jobsStatus`); read at most once a second. */
  readonly jobs: () => Promise<unknown>;
  readonly lineage: LineageGraph;
  readonly decisions: DecisionLog;
  /** Absent when serve runs no models (`--no-models`): the controls then answer 409. */
  readonly control?: StreamingControl | undefined;
  /** The bearer token of `POST /api/control/*`; without one the controls answer 403. */
  readonly controlToken?: string | undefined;
  /** How often `/api/events` pushes the snapshot (default 1000 ms). */
  readonly snapshotEveryMs?: number;
  /**
   * The model tables' partition status as last computed (serve computes it in the background
   * after commits, never for a request); undefined before the first computation.
   */
  readonly partitions?: () => PartitionStatusSnapshot | undefined;
  /**
   * Asks for the partition status to be computed again (serve: the tracker's `request`); called
   * when a model table's version is ahead of it (a commit it has not caught up with yet, or one
   * made by another process, which serve does not otherwise notice).
   */
  readonly refreshPartitions?: () => void;
  /** Reconciles started from the page (`POST /api/control/reconcile`); absent: that control answers 409. */
  readonly reconcile?: ConsoleReconcile | undefined;
  /** The lake's store, where `_lakeloop/reports/` holds the reconcile and replay reports. */
  readonly reports?: ObjectStore | undefined;
  /** The source contracts and the models reading them, for the contracts checklist. */
  readonly contracts?: readonly Contract[];
  readonly models?: readonly Model[];
}

/** The partition status the console reads: every model table's partitions, and when they were computed. */
export interface PartitionStatusSnapshot {
  readonly computedAt: string;
  readonly tables: readonly TablePartitionStatus[];
}

/** How many non-exact partitions `GET /api/partitions?table=` lists at most. */
const PARTITIONS_LISTED = 500;
/** A report id as `reconcile` and `replay` make them (`reconcile-20261207T200219Z-ab12cd34`): nothing else names a file. */
const REPORT_ID = /^(?:reconcile|replay)-\d{8}T\d{6}Z-[0-9a-f]{1,32}$/;
/** The header the page sends with its control requests, so that a reconcile it starts is recorded as the console's. */
const CLIENT_HEADER = 'x-lakeloop-client';
/** The largest body `POST /api/control/reconcile` reads. */
const MAX_CONTROL_BODY_BYTES = 16 * 1024;

/** The static files, by path: read from `static/` beside this module (copied to dist/ by the build). */
const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
};

const CONTROL_ACTIONS = ['pause', 'step', 'resume', 'reconcile'] as const;
type ControlAction = (typeof CONTROL_ACTIONS)[number];

/**
 * The web console of `serve` (`GET /`): a plain HTML page, its CSS and ES module, served
 * as they are from `static/`, and the JSON/SSE API it reads — `GET /api/console` (the
 * `/status` body, the tables and jobs as `status --json` prints them, the lineage, the
 * decision log, the control state, the console reconcile, the contracts checklist),
 * `GET /api/events` (Server-Sent Events: that snapshot every second, each new decision),
 * `GET /api/partitions[?table=]` (the partition status as last computed, never computed for
 * a request), `GET /api/reconcile/reports` and `GET /api/reconcile/report?id=` (the reports
 * under `_lakeloop/reports/`), and `POST /api/control/pause|step|resume|reconcile`, which
 * need `Authorization: Bearer <token>` (401 without it, 403 when no token is configured;
 * the token is checked before a body is read). See docs/console.md.
 *
 * @example
 * const web = await WebConsole.create({ status, tables, jobs, lineage, decisions, control: loop, controlToken: 'T' });
 * const collector = await Collector.create({ ..., endpoints: web.endpoints() });
 * await web.close();
 */
export class WebConsole {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly tables: () => Promise<unknown>;
  private readonly jobs: () => Promise<unknown>;
  private readonly reportList: () => Promise<ReconcileReport[]>;
  private closed = false;

  private constructor(
    private readonly options: WebConsoleOptions,
    private readonly files: ReadonlyMap<string, { body: Buffer; type: string }>,
  ) {
    // A new decision means a commit: the tables are read again then, so they agree with the counters.
    this.tables = cachedFor(1_000, options.tables, () => options.decisions.last);
    // Read again when a console reconcile starts or ends: its job's line follows the run.
    this.jobs = cachedFor(1_000, options.jobs, () => reconcileRunsOf(options.reconcile));
    // Read again when a job of this serve wrote a report, else at most every 5 s (reports of other processes).
    this.reportList = cachedFor(5_000, () => (options.reports ? listReports(options.reports, 20) : Promise.resolve([])), () => options.reconcile?.state.reports);
  }

  /** Reads the static files (a missing one fails here, at start, not on the first request). */
  static async create(options: WebConsoleOptions): Promise<WebConsole> {
    const files = new Map<string, { body: Buffer; type: string }>();
    for (const [path, { file, type }] of Object.entries(STATIC_FILES)) {
      const url = new URL(`./static/${file}`, import.meta.url);
      try {
        files.set(path, { body: await readFile(url), type });
      } catch (error) {
        throw new LakeloopError('CONSOLE_FILES', `Failed to read the console's ${file} at ${url.pathname}: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
          hint: 'A broken install: reinstall lakeloop (a build from source copies src/server/console/static/ to dist/ with npm run build).',
        });
      }
    }
    return new WebConsole(options, files);
  }

  /** The console's endpoints, by path, for the collector's `endpoints` option. */
  endpoints(): Record<string, EndpointHandler> {
    const out: Record<string, EndpointHandler> = {};
    for (const path of this.files.keys()) out[path] = (req, res) => this.serveFile(path, req, res);
    out['/api/console'] = async (req, res) => {
      if (!readOnly(req, res)) return;
      sendJson(res, 200, await this.snapshot(true), req.method === 'HEAD');
    };
    out['/api/events'] = (req, res) => {
      if (!readOnly(req, res)) return;
      this.openStream(req, res);
    };
    out['/api/partitions'] = (req, res, url) => {
      if (!readOnly(req, res)) return;
      this.partitionsOf(url.searchParams.get('table'), req, res);
    };
    out['/api/reconcile/reports'] = async (req, res, url) => {
      if (!readOnly(req, res)) return;
      const limit = Math.min(20, Math.max(1, Number(url.searchParams.get('limit') ?? '10') || 10));
      const reports = (await this.reportList()).slice(0, limit);
      sendJson(res, 200, { reports: reports.map(reportSummary) }, req.method === 'HEAD');
    };
    out['/api/reconcile/report'] = async (req, res, url) => {
      if (!readOnly(req, res)) return;
      const id = url.searchParams.get('id') ?? '';
      if (!REPORT_ID.test(id)) return sendJson(res, 400, { error: `Not a report id: ${JSON.stringify(id.slice(0, 80))}`, hint: 'Ids look like reconcile-20261207T200219Z-ab12cd34 (GET /api/reconcile/reports lists them).' });
      const body = this.options.reports ? await this.options.reports.getIfExists(`${REPORTS_PREFIX}${id}.json`) : undefined;
      if (!body) return sendJson(res, 404, { error: `No report ${id}`, hint: 'GET /api/reconcile/reports lists the newest reports.' });
      const report = JSON.parse(body.toString('utf8')) as ReconcileReport;
      sendJson(res, 200, { summary: reportSummary(report), report }, req.method === 'HEAD');
    };
    for (const action of CONTROL_ACTIONS) out[`/api/control/${action}`] = (req, res) => this.control(action, req, res);
    return out;
  }

  /** The JSON the page renders: `/status`, tables, jobs, lineage, control state and (with `withDecisions`) the decision log. */
  async snapshot(withDecisions: boolean): Promise<Record<string, unknown>> {
    const { control, decisions, reconcile } = this.options;
    const [tables, jobs] = await Promise.all([this.tables(), this.jobs()]);
    const counts = (tables as { sources?: readonly SourceCounts[] } | null)?.sources ?? [];
    const behind = partitionsBehind(this.options.partitions?.()?.tables ?? [], tables);
    if (behind.length) this.options.refreshPartitions?.();
    return {
      generatedAt: new Date().toISOString(),
      status: this.options.status(),
      lake: tables,
      jobs,
      lineage: this.options.lineage,
      // Model tables whose partition status (status.partitions) is for an older version: shown as computing.
      partitionsBehind: behind,
      control: {
        mode: control === undefined ? 'off' : control.paused ? 'paused' : 'auto',
        tokenConfigured: this.options.controlToken !== undefined,
        active: control?.activity ?? null,
        waiting: decisions.waiting(),
      },
      lastDecision: decisions.last,
      reconcile: { available: reconcile !== undefined, ...(reconcile?.state ?? { running: null, last: null, reports: 0 }) },
      contracts: contractChecklist(this.options.contracts ?? [], this.options.models ?? [], counts),
      modelChecklist: modelChecklist(this.options.models ?? []),
      ...(withDecisions ? { decisions: decisions.list() } : {}),
    };
  }

  /** Ends the event streams (so the server can close) and stops pushing. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private serveFile(path: string, req: IncomingMessage, res: ServerResponse): void {
    if (!readOnly(req, res)) return;
    const file = this.files.get(path);
    if (!file) return;
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  private openStream(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed) return sendJson(res, 503, { error: 'The server is shutting down', hint: 'Reconnect after restart.' });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    req.once('close', () => this.clients.delete(res));
    void this.snapshot(true).then((body) => send(res, 'console', body), () => undefined);
    this.unsubscribe ??= this.options.decisions.subscribe((decision: Decision) => {
      for (const client of this.clients) send(client, 'decision', decision);
    });
    if (!this.timer) {
      let busy = false;
      this.timer = setInterval(() => {
        if (busy || this.clients.size === 0) return;
        busy = true;
        this.snapshot(false)
          .then((body) => {
            for (const client of this.clients) send(client, 'snapshot', body);
          }, () => undefined)
          .finally(() => {
            busy = false;
          });
      }, this.options.snapshotEveryMs ?? 1_000);
      this.timer.unref();
    }
  }

  /** One table's non-exact partitions (`?table=`), or every table's counts; from the last computation, never a fresh one. */
  private partitionsOf(table: string | null, req: IncomingMessage, res: ServerResponse): void {
    const head = req.method === 'HEAD';
    const status = this.options.partitions?.();
    if (!status) return sendJson(res, 503, { error: 'The partition status is not computed yet', hint: 'It is computed after the first commits; ask again in a moment.' }, head, { 'retry-after': '2' });
    const line = (t: TablePartitionStatus): Record<string, unknown> => ({ table: t.table, version: t.version, pendingChange: t.pendingChange, staleFrom: t.staleFrom, counts: statusCounts(t.partitions) });
    if (table === null) return sendJson(res, 200, { computedAt: status.computedAt, tables: status.tables.map(line) }, head);
    const found = status.tables.find((t) => t.table === table);
    if (!found) {
      return sendJson(res, 404, { error: `No model table ${JSON.stringify(table.slice(0, 80))} in the partition status`, hint: `Tables: ${status.tables.map((t) => t.table).join(', ') || 'none yet'}.` }, head);
    }
    // Most urgent first (held, stale_code, pending_late, …), then by partition.
    const rank = (kind: string): number => STATUS_PRECEDENCE.indexOf(kind as (typeof STATUS_PRECEDENCE)[number]);
    const nonExact = found.partitions.filter((p) => p.status !== 'exact').sort((a, b) => rank(a.status) - rank(b.status) || a.partition.localeCompare(b.partition));
    sendJson(res, 200, { computedAt: status.computedAt, ...line(found), nonExact: nonExact.length, partitions: nonExact.slice(0, PARTITIONS_LISTED) }, head);
  }

  private async control(action: ControlAction, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      return sendJson(res, 405, { error: 'Method not allowed; use POST', hint: `POST /api/control/${action} with Authorization: Bearer <token>.` }, false, { allow: 'POST' });
    }
    // Only reconcile reads a body, and only once the token is checked: a refused request's body is drained unread.
    if (action !== 'reconcile') req.resume();
    const token = this.options.controlToken;
    if (token === undefined) {
      req.resume();
      return sendJson(res, 403, {
        error: 'The controls are disabled: serve was started without a control token',
        hint: 'Restart with lakeloop serve --control-token <T> (or LAKELOOP_CONTROL_TOKEN=<T>), then send Authorization: Bearer <T>.',
      });
    }
    if (!tokenMatches(req.headers.authorization, token)) {
      req.resume();
      return sendJson(res, 401, { error: 'Missing or wrong control token', hint: 'Send Authorization: Bearer <the token given to serve --control-token>.' }, false, { 'www-authenticate': 'Bearer realm="lakeloop"' });
    }
    if (action === 'reconcile') return this.startReconcile(req, res);
    const { control, decisions } = this.options;
    if (!control) {
      return sendJson(res, 409, { error: 'This serve runs no models (--no-models, or no sql/ models): there is nothing to pause or step', hint: 'Restart serve without --no-models.' });
    }
    let ran: boolean | undefined;
    if (action === 'pause') {
      const was = control.paused;
      await control.pause();
      if (!was) decisions.recordControl('paused by the operator: landing goes on, model runs wait for step or resume');
    } else if (action === 'resume') {
      const was = control.paused;
      control.resume();
      if (was) decisions.recordControl('resumed by the operator: model runs follow bronze commits again');
    } else {
      const before = decisions.last?.id ?? 0;
      const cycle = await decisions.asStep(async () => {
        const result = await control.step();
        if (!result.ran) decisions.recordIdle(result.reason ?? 'nothing was due');
        return result;
      });
      ran = cycle.ran;
      if ((decisions.last?.id ?? 0) === before) decisions.recordIdle('the cycle ran nothing');
    }
    sendJson(res, 200, { action, mode: control.paused ? 'paused' : 'auto', ...(ran === undefined ? {} : { ran }), decision: decisions.last });
  }

  private async startReconcile(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { reconcile, decisions } = this.options;
    if (!reconcile) {
      req.resume();
      return sendJson(res, 409, { error: 'This serve runs no models (--no-models, or no sql/ models): there is nothing to reconcile', hint: 'Run lakeloop reconcile, or restart serve without --no-models.' });
    }
    let request: ReconcileRequest;
    try {
      const text = await readBody(req, MAX_CONTROL_BODY_BYTES);
      let parsed: unknown;
      try {
        parsed = text.trim() ? JSON.parse(text) : undefined;
      } catch {
        throw new ReconcileRequestError('the body is not JSON');
      }
      request = reconcile.parse(parsed);
    } catch (error) {
      if (!(error instanceof ReconcileRequestError)) throw error;
      return sendJson(res, 400, { error: `Bad reconcile request: ${error.message}`, hint: 'POST a JSON object: {"from":"2026-03-01","to":"2026-03-07","models":["gold.daily"],"dryRun":true}, every field optional.' });
    }
    const running = reconcile.state.running;
    const run = reconcile.start(request, requesterOf(req));
    if (!run) {
      return sendJson(res, 409, { error: `A reconcile started from the console is running (since ${running?.requestedAt ?? 'just now'})`, hint: 'Wait for it to end: GET /api/console shows reconcile.running.' });
    }
    const what = [request.from || request.to ? `window ${request.from ?? '…'} → ${request.to ?? '…'}` : 'every partition that is not exact', request.models ? `models ${request.models.join(', ')} and downstream` : '', request.dryRun ? 'dry run' : ''].filter(Boolean).join(', ');
    decisions.recordControl(`reconcile started by the operator (${what}): recomputed from bronze in the separate circuit, ${request.dryRun ? 'the report only' : 'corrections published when done'}`);
    sendJson(res, 202, { action: 'reconcile', run });
  }
}

/** The page says it is the page (`X-Lakeloop-Client: console`); any other client is the API's. */
function requesterOf(req: IncomingMessage): ReconcileRequester {
  return req.headers[CLIENT_HEADER] === 'console' ? 'console' : 'api';
}

/** Which console reconciles have started and ended, as a key that changes with either. */
function reconcileRunsOf(reconcile: ConsoleReconcile | undefined): string {
  const state = reconcile?.state;
  return `${state?.running?.id ?? '-'}|${state?.last?.id ?? '-'}`;
}

/**
 * The body of a request as text; a `ReconcileRequestError` over `maxBytes`. An oversized body
 * is drained, not destroyed, so that the 400 still reaches the client.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.once('end', () => (size > maxBytes ? reject(new ReconcileRequestError(`the body is over ${maxBytes} bytes`)) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.once('error', reject);
  });
}

/** `fn`'s result, read again only when older than `ms` or when `version()` changed since (one read in flight at a time). */
function cachedFor<T>(ms: number, fn: () => Promise<T>, version: () => unknown = () => undefined): () => Promise<T> {
  let value: { at: number; version: unknown; promise: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    const current = version();
    if (!value || now - value.at > ms || value.version !== current) {
      const promise = fn();
      value = { at: now, version: current, promise };
      promise.catch(() => {
        if (value?.promise === promise) value = undefined;
      });
    }
    return value.promise;
  };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  // equal-length digests: the comparison takes the same time whatever the token sent
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest((match[1] ?? '').trim()), digest(token));
}

function readOnly(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  sendJson(res, 405, { error: 'Method not allowed; use GET', hint: 'This path accepts GET only.' }, false, { allow: 'GET' });
  return false;
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function sendJson(res: ServerResponse, status: number, body: unknown, head = false, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(head ? undefined : text);
}
