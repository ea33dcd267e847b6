import type { ResolvedBudgets } from '../config/index.js';
import { LakeloopError } from '../core/index.js';
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

/**
 * In `budgets.mode: 'refuse'`, refuses the work before it starts when a layer it writes is
 * already over its `budgets.storageQuota` (from the logs alone); in `warn` mode, and with no
 * quota on those layers, it reads nothing and lets the work go on (the warning comes after).
 *
 * @example
 * await refuseOverQuota(session.lake, config.budgets, ['bronze'], 'ingesting orders');
 */
export async function refuseOverQuota(lake: Lake, budgets: ResolvedBudgets, writes: readonly string[], what: string): Promise<void> {
  if (budgets.mode !== 'refuse') return;
  const layers = [...new Set(writes)].filter((layer) => budgets.storageQuota[layer as keyof ResolvedBudgets['storageQuota']] !== undefined);
  if (layers.length === 0) return;
  const usage = await storageUsage(lake, { quotaBytes: budgets.storageQuota, countUnreferenced: false, layers });
  const over = quotaWarnings(usage);
  if (over.length === 0) return;
  throw new LakeloopError('STORAGE_QUOTA', `Refused before ${what}: ${over.join('; ')}`, {
    hint: "raise budgets.storageQuota in lakeloop.config.ts, free space (lakeloop compact, lakeloop vacuum), or set budgets.mode: 'warn' to write anyway",
  });
}
