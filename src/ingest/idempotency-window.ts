import { CommitConflict } from '../core/index.js';
import type { Contract } from '../contracts/index.js';
import { formatInterval, IDEMPOTENCY_KEY_RETENTION, type DeltaTable } from '../table/index.js';

/** The table property (of bronze and quarantine) that makes the collector's idempotency keys expire after the contract's `idempotencyWindow`. */
export function idempotencyWindowConfiguration(contract: Contract): Record<string, string> {
  return { [IDEMPOTENCY_KEY_RETENTION]: formatInterval(contract.idempotencyWindowMs) };
}

/**
 * Records the contract's `idempotencyWindow` on its bronze (or quarantine) table when the
 * table holds another (or none: a table from before the window, whose keys never expired):
 * one metaData commit, made when the collector of the source starts, so every reader of the
 * table (`status`, `compact`, a checkpoint written by another process) expires the same keys.
 */
export async function recordIdempotencyWindow(table: DeltaTable, contract: Contract): Promise<void> {
  const wanted = idempotencyWindowConfiguration(contract);
  for (let attempt = 1; ; attempt++) {
    const snapshot = await table.snapshot();
    const configuration = snapshot.metadata.configuration;
    if (Object.entries(wanted).every(([key, value]) => configuration[key] === value)) return;
    try {
      await table.commit({
        readVersion: snapshot.version,
        metadata: { ...snapshot.metadata, configuration: { ...configuration, ...wanted } },
        operation: 'SET TBLPROPERTIES',
        operationParameters: { properties: JSON.stringify(wanted) },
        commitInfo: { lakeloop: { source: contract.source, idempotencyWindow: contract.idempotencyWindow } },
      });
      return;
    } catch (error) {
      // another metaData commit (a column added by drift) won the race: read it and try again
      if (!(error instanceof CommitConflict) || attempt >= 3) throw error;
    }
  }
}
