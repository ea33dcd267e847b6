/**
 * A source against its completeness SLO over its window: of the records received (landed +
 * quarantined; duplicates of a batch already landed are neither), the share that landed.
 *
 * @example
 * { source: 'orders', met: false, received: 1000, landed: 950, quarantined: 50, landedRatio: 0.95, minLandedRatio: 0.99, window: '15m', message: '95.0% of the records received in the last 15m landed (950 of 1000; 50 quarantined); SLO at least 99.0%' }
 */
export interface SourceCompletenessEvaluation {
  readonly source: string;
  readonly met: boolean;
  readonly received: number;
  readonly landed: number;
  readonly quarantined: number;
  /** landed ÷ received over the window; 1 when nothing was received (a stopped source is the freshness SLO's). */
  readonly landedRatio: number;
  readonly minLandedRatio: number;
  readonly window: string;
  /** One sentence: what breaches, or that it is met. */
  readonly message: string;
}

/**
 * Evaluates a source's landed-vs-received SLO from the counts of its window.
 *
 * @example
 * evaluateSourceCompleteness('orders', { minLandedRatio: 0.99, window: '15m' }, { landed: 990, quarantined: 10 }).met; // true
 */
export function evaluateSourceCompleteness(
  source: string,
  objective: { readonly minLandedRatio: number; readonly window: string },
  counts: { readonly landed: number; readonly quarantined: number },
): SourceCompletenessEvaluation {
  const received = counts.landed + counts.quarantined;
  const landedRatio = received > 0 ? counts.landed / received : 1;
  const met = landedRatio >= objective.minLandedRatio;
  const pct = (share: number): string => `${(Math.floor(share * 1000) / 10).toFixed(1)}%`;
  const slo = `SLO at least ${pct(objective.minLandedRatio)}`;
  const message =
    received === 0
      ? `nothing received in the last ${objective.window} (${slo})`
      : `${pct(landedRatio)} of the records received in the last ${objective.window} landed (${counts.landed} of ${received}; ${counts.quarantined} quarantined); ${slo}${met ? '' : `: see quarantine.${source} for the reasons`}`;
  return Object.freeze({ source, met, received, landed: counts.landed, quarantined: counts.quarantined, landedRatio: Math.round(landedRatio * 10_000) / 10_000, minLandedRatio: objective.minLandedRatio, window: objective.window, message });
}
