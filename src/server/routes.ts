import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a mounted route answers. */
export interface RouteReply {
  /** Default 200. */
  readonly status?: number;
  readonly contentType: string;
  readonly body: string;
}

/**
 * A read-only endpoint mounted on the collector's server (`GET`/`HEAD` of one exact path),
 * such as `/metrics` and `/status`.
 *
 * @example
 * const routes: Record<string, RouteHandler> = { '/version': () => ({ contentType: 'text/plain', body: '0.1.0\n' }) };
 */
export type RouteHandler = (url: URL) => RouteReply | Promise<RouteReply>;

/**
 * An endpoint that answers the request itself (any method; it may keep the response open,
 * as Server-Sent Events do), mounted on the collector with its `endpoints` option.
 */
export type EndpointHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;
