import { formatSize, type ResolvedBudgets } from '../config/index.js';
import type { ScanEstimate } from './scan-estimate.js';

/**
 * A run's estimated scan against `budgets.maxBytesScannedPerRun`: within it, or over it
 * with what to say (`refuse`: the run must not start; `warn`: it runs and says so).
 *
 * @example
 * { estimatedBytes: 12_000, estimatedFiles: 6, budgetBytes: 10_000, mode: 'warn', over: true, message: 'This run would scan ...', hint: 'Raise ...' }
 */
export interface ScanBudgetCheck {
  readonly estimatedBytes: number;
  readonly estimatedFiles: number;
  readonly budgetBytes: number;
  readonly mode: 'warn' | 'refuse';
  readonly over: boolean;
  /** Set when `over`: the estimate and the budget, in words. */
  readonly message?: string;
  /** Set when `over`: what to change. */
  readonly hint?: string;
  /** Model → its estimated bytes (those that read anything), largest first. */
  readonly models: readonly { readonly model: string; readonly bytes: number }[];
}

/** What is checked, for the message: `This run` of `lakeloop run`, a streaming cycle, a job. */
export interface ScanBudgetSubject {
  /** The message's subject: `This run`, `The streaming cycle`, `Job nightly (reconcile)`. */
  readonly what: string;
  /** The hint's alternative to raising the budget: `run fewer models (lakeloop run <model>...)`. */
  readonly instead: string;
}

const RUN_SUBJECT: ScanBudgetSubject = Object.freeze({ what: 'This run', instead: 'run fewer models (lakeloop run <model>...)' });

/**
 * Compares a run's scan estimate with the budget; undefined when no `maxBytesScannedPerRun` is set.
 *
 * @example
 * const check = checkScanBudget(await estimateScan(lake, models), config.budgets);
 * if (check?.over && check.mode === 'refuse') throw new BudgetExceeded(check.message, ...);
 */
export function checkScanBudget(estimate: ScanEstimate, budgets: ResolvedBudgets, subject: ScanBudgetSubject = RUN_SUBJECT): ScanBudgetCheck | undefined {
  const budgetBytes = budgets.maxBytesScannedPerRun;
  if (budgetBytes === undefined) return undefined;
  const models = estimate.models
    .filter((m) => m.bytes > 0)
    .map((m) => ({ model: m.model, bytes: m.bytes }))
    .sort((a, b) => b.bytes - a.bytes || a.model.localeCompare(b.model));
  const base = { estimatedBytes: estimate.bytes, estimatedFiles: estimate.files, budgetBytes, mode: budgets.mode, models };
  if (estimate.bytes <= budgetBytes) return Object.freeze({ ...base, over: false });
  const largest = models.slice(0, 3).map((m) => `${m.model} ${formatSize(m.bytes)}`).join(', ');
  return Object.freeze({
    ...base,
    over: true,
    message:
      `${subject.what} would scan an estimated ${formatSize(estimate.bytes)} (${estimate.files} files; ${largest}), ` +
      `over budgets.maxBytesScannedPerRun of ${formatSize(budgetBytes)}${budgets.mode === 'refuse' ? ': refused, nothing was read' : ''}`,
    hint: `Raise budgets.maxBytesScannedPerRun in lakeloop.config.ts or ${subject.instead}.`,
  });
}
