import { parseDuration } from '../core/index.js';

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The default `max_future_skew`: event times further ahead of the wall clock stop moving the watermark. */
export const DEFAULT_MAX_FUTURE_SKEW = '5m';

/**
 * A model's lateness horizon (SPEC §7): the watermark is the largest event time seen
 * (capped at wall clock + max_future_skew), and a date partition is cold when all of it
 * lies before watermark − lateness. Cold partitions are left to reconciliation.
 *
 * @example
 * const horizon = Horizon.of({ lateness: '2h', maxEventTimeMs: Date.parse('2026-01-10T12:00:00Z') });
 * horizon.isCold('2026-01-09') // true
 * horizon.isCold('2026-01-10') // false
 */
export class Horizon {
  private constructor(
    /** Epoch ms before which a partition is cold; undefined = nothing is cold. */
    readonly cutoffMs: number | undefined,
  ) {}

  /** No horizon: every partition is hot (a model without `lateness`, or no watermark yet). */
  static readonly none = new Horizon(undefined);

  static of(options: { lateness: string | undefined; maxEventTimeMs: number | undefined }): Horizon {
    if (options.lateness === undefined || options.maxEventTimeMs === undefined) return Horizon.none;
    return new Horizon(options.maxEventTimeMs - parseDuration(options.lateness, 'lateness'));
  }

  /** Whether a partition value lies wholly behind the horizon; values that are not dates are never cold. */
  isCold(partition: string | null): boolean {
    if (this.cutoffMs === undefined || partition === null) return false;
    const start = dateStartMs(partition);
    return start !== undefined && start + DAY_MS <= this.cutoffMs;
  }
}

/** The largest event time seen after observing `observedMs`, capped at now + max_future_skew. */
export function advanceMaxEventTime(previousMs: number | undefined, observedMs: number | undefined, nowMs: number, maxFutureSkew: string | undefined): number | undefined {
  const cap = nowMs + parseDuration(maxFutureSkew ?? DEFAULT_MAX_FUTURE_SKEW, 'max_future_skew');
  const observed = observedMs === undefined ? undefined : Math.min(observedMs, cap);
  if (previousMs === undefined) return observed;
  if (observed === undefined) return previousMs;
  return Math.max(previousMs, observed);
}

/** Epoch ms of the start (UTC) of a `YYYY-MM-DD` value that is a real calendar day, else undefined. */
export function dateStartMs(value: string): number | undefined {
  const match = DATE.exec(value);
  if (!match) return undefined;
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  // Date.UTC rolls over (2026-02-30 is March 2nd): only a real calendar day round-trips.
  return Number.isNaN(ms) || utcDate(ms) !== value ? undefined : ms;
}

/** The UTC calendar day (`YYYY-MM-DD`) of an epoch-ms instant. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
