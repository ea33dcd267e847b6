import type { ResolvedBudgets } from '../config/index.js';
import { quotaWarnings, storageUsage } from '../query/index.js';
import type { Lake } from '../table/index.js';
import type { TextSink } from './io.js';

/**
 * The layers over their `budgets.storageQuota`, one warning each, also written to `err`
 * (`warning: ...`); none when no quota is set (then nothing is read).
 *
 * @example
 * const warnings = await warnOverQuota(session.lake, config.budgets, io.stderr);
 */
export async function warnOverQuota(lake: Lake, budgets: ResolvedBudgets, err: TextSink): Promise<string[]> {
  const layers = Object.entries(budgets.storageQuota).filter(([, bytes]) => bytes !== undefined).map(([layer]) => layer);
  if (layers.length === 0) return [];
  // Live bytes come from the logs alone: no folder listings on the way out of a run or an ingest.
  const usage = await storageUsage(lake, { quotaBytes: budgets.storageQuota, countUnreferenced: false, layers });
  const warnings = quotaWarnings(usage);
  for (const warning of warnings) err.write(`warning: ${warning}\n`);
  return warnings;
}
