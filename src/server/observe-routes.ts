import type { Metrics } from '../observe/index.js';
import type { RouteHandler } from './routes.js';

export interface ObserveRoutesOptions {
  readonly metrics: Metrics;
  /** The lake root `/status` names (a directory or `s3://bucket/prefix`; never credentials). */
  readonly lakeRoot: string;
  /** More top-level fields of `/status`, read on each request (e.g. the sample feed's counts). */
  readonly extra?: () => Readonly<Record<string, unknown>>;
}

/**
 * `GET /metrics` (Prometheus text) and `GET /status` (JSON: the lake root, uptime, per
 * source counters and rates, per model last run and freshness, the backlog alert), to
 * mount on the collector with its `routes` option.
 *
 * @example
 * const collector = await Collector.create({ lake, contracts, metrics, routes: observeRoutes({ metrics, lakeRoot: './lake' }) });
 */
export function observeRoutes(options: ObserveRoutesOptions): Readonly<Record<string, RouteHandler>> {
  const { metrics } = options;
  return {
    '/metrics': async () => ({ contentType: metrics.contentType, body: await metrics.text() }),
    '/status': () => {
      const status = { lake: options.lakeRoot, ...metrics.snapshot(), ...options.extra?.() };
      return { contentType: 'application/json; charset=utf-8', body: `${JSON.stringify(status, null, 2)}\n` };
    },
  };
}
