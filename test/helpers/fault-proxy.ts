/**
 * A tiny HTTP server on 127.0.0.1 that misbehaves on purpose: for each request, `plan`
 * decides whether to forward it to `upstream` (e.g. s3rver; headers kept, so SigV4
 * signatures stay valid), answer with an S3-style error, cut the connection, or hang.
 * Tests point an S3 store's `endpoint` at it to exercise retries for real.
 *
 * @example
 * const proxy = await startFaultProxy({ upstream: s3rverTestEndpoint().endpoint, plan: failFirst(2, { status: 503, code: 'SlowDown' }) });
 * // ... S3ObjectStore.create({ ...options, endpoint: proxy.endpoint }) ...
 * expect(proxy.requests).toHaveLength(3);
 * await proxy.close();
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the proxy does with one request: `forward` it; `reset` the connection before
 * forwarding; `lost-response`: forward, let upstream act, then cut the connection so the
 * client never hears back; `hang` forever; or answer `{ status, code }` itself.
 */
export type FaultAction = 'forward' | 'reset' | 'lost-response' | 'hang' | { readonly status: number; readonly code?: string } | LateWrite;

/**
 * A store that completes a write late: the proxy reads the whole request, answers the
 * client `answer` (after `holdMs`, e.g. past the client's timeout), and forwards the
 * request it kept to upstream only once `release` resolves; `landed` resolves when
 * upstream has answered that late request.
 */
export interface LateWrite {
  readonly late: true;
  readonly answer: { readonly status: number; readonly code?: string };
  readonly holdMs?: number;
  readonly release: Promise<void>;
  landed?: Promise<number>;
}

/** One request the proxy saw, and what it did. */
export interface ProxiedRequest {
  readonly method: string;
  readonly url: string;
  readonly action: FaultAction;
}

export interface FaultProxy {
  readonly endpoint: string;
  readonly requests: readonly ProxiedRequest[];
  close(): Promise<void>;
}

/** A plan: `action` for the first `count` requests, then forward. */
export function failFirst(count: number, action: Exclude<FaultAction, 'forward'>): (index: number) => FaultAction {
  return (index) => (index < count ? action : 'forward');
}

export async function startFaultProxy(options: {
  readonly upstream?: string;
  readonly plan: (index: number, req: IncomingMessage) => FaultAction;
}): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const upstream = options.upstream === undefined ? undefined : new URL(options.upstream);
  const server = createServer((req, res) => {
    const action = options.plan(requests.length, req);
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', action });
    if (action === 'hang') return;
    if (action === 'reset') {
      req.socket.destroy();
      return;
    }
    if (typeof action === 'object' && 'late' in action) {
      action.landed = lateWrite(upstream, req, res, action);
      return;
    }
    if (action === 'forward' || action === 'lost-response') {
      if (!upstream) return sendError(req, res, 502, 'NoUpstream');
      forward(upstream, req, res, action === 'lost-response');
      return;
    }
    sendError(req, res, action.status, action.code ?? 'InternalError');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function lateWrite(upstream: URL | undefined, req: IncomingMessage, res: ServerResponse, action: LateWrite): Promise<number> {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise<void>((resolve) => req.on('end', () => resolve())).then(async () => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${action.answer.code ?? 'ServiceUnavailable'}</Code><Message>injected by fault proxy</Message></Error>`;
    setTimeout(() => {
      if (res.destroyed || req.socket.destroyed) return;
      res.writeHead(action.answer.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, action.holdMs ?? 0);
    await action.release;
    if (!upstream) return 502;
    return new Promise<number>((resolve, reject) => {
      const outgoing = httpRequest({ hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        answer.resume();
        answer.on('end', () => resolve(answer.statusCode ?? 0));
      });
      outgoing.on('error', reject);
      outgoing.end(Buffer.concat(chunks));
    });
  });
}

function sendError(req: IncomingMessage, res: ServerResponse, status: number, code: string): void {
  req.resume();
  req.on('end', () => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by fault proxy</Message></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

function forward(upstream: URL, req: IncomingMessage, res: ServerResponse, loseResponse: boolean): void {
  const outgoing = httpRequest(
    { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      if (loseResponse) {
        answer.resume();
        answer.on('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  outgoing.on('error', () => res.destroy());
  req.pipe(outgoing);
}
