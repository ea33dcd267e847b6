import type { CompletenessObjective } from '../models/index.js';
import type { TablePartitionStatus } from './partition-status.js';

const DAY_MS = 86_400_000;
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A model table against its completeness SLO, from its partition status: the late rows
 * waiting for reconcile, and the partitions old enough to be exact that are not.
 *
 * @example
 * { model: 'gold.daily', met: false, pendingLateRows: 4, notExact: ['2026-03-01'], objective: { maxPendingLateRows: 0, ... }, message: '4 late rows wait for reconcile (SLO 0)' }
 */
export interface CompletenessEvaluation {
  readonly model: string;
  readonly met: boolean;
  /** Rows deferred behind the horizon that no reconcile, replay or full build has applied. */
  readonly pendingLateRows: number;
  /** Partitions more than `exactAfter` older than the newest partition that are not `exact`, oldest first. */
  readonly notExact: readonly string[];
  /** The share of partitions that are `exact` (1 for a table without partitions). */
  readonly exactShare: number;
  readonly objective: CompletenessObjective;
  /** One sentence: what breaches, or that it is met. */
  readonly message: string;
}

/**
 * Evaluates a model table's completeness SLO. "Old enough" is measured in event time, from
 * the table's newest date partition (as reconcile's default window is), so a replayed
 * history is judged like live data; partitions whose value is not a date never count as old.
 *
 * @example
 * evaluateCompleteness(status, { maxPendingLateRows: 0, exactAfter: '2d', exactAfterMs: 172_800_000 }).met
 */
export function evaluateCompleteness(table: TablePartitionStatus, objective: CompletenessObjective): CompletenessEvaluation {
  const partitions = table.partitions;
  const pendingLateRows = partitions.reduce((n, p) => n + p.pendingLateRows, 0);
  const days = partitions.map((p) => p.partition).filter((d) => ISO_DAY.test(d)).sort();
  const newest = days.at(-1);
  let notExact: string[] = [];
  if (objective.exactAfterMs !== undefined && newest !== undefined) {
    const cutoff = new Date(Date.parse(`${newest}T00:00:00Z`) - Math.ceil(objective.exactAfterMs / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
    notExact = partitions.filter((p) => ISO_DAY.test(p.partition) && p.partition < cutoff && p.status !== 'exact').map((p) => p.partition).sort();
  }
  const exact = partitions.filter((p) => p.status === 'exact').length;
  const lateBreach = objective.maxPendingLateRows !== undefined && pendingLateRows > objective.maxPendingLateRows;
  const reasons: string[] = [];
  if (lateBreach) reasons.push(`${pendingLateRows} late rows wait for reconcile (SLO at most ${objective.maxPendingLateRows})`);
  if (notExact.length) {
    const shown = notExact.slice(0, 5).join(', ') + (notExact.length > 5 ? ', …' : '');
    reasons.push(`${notExact.length} partition(s) older than ${objective.exactAfter} not exact: ${shown}`);
  }
  const met = reasons.length === 0;
  return Object.freeze({
    model: table.table,
    met,
    pendingLateRows,
    notExact: Object.freeze(notExact),
    exactShare: partitions.length ? Math.round((exact / partitions.length) * 1000) / 1000 : 1,
    objective,
    message: met ? `complete: ${pendingLateRows} late rows pending${objective.exactAfter === undefined ? '' : `, every partition older than ${objective.exactAfter} exact`}` : `${reasons.join('; ')}; lakeloop reconcile publishes them`,
  });
}
