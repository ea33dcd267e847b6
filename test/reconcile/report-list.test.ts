import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listReports, writeReport, type ReconcileReport } from '../../src/reconcile/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-reports-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function report(id: string, startedAt: string): ReconcileReport {
  return { id, kind: 'reconcile', dryRun: false, startedAt, seconds: 0.1, models: [] };
}

describe('listReports', () => {
  it('lists the newest first, ordering reports of the same second by their start in milliseconds', async () => {
    const store = await LocalObjectStore.create(join(dir, 'lake'));
    // Ids carry the second and a random suffix; the random part sorts opposite to the start times here.
    await writeReport(store, report('reconcile-20261125T200219Z-ffffffff', '2026-11-25T20:02:19.100Z'));
    await writeReport(store, report('replay-20261125T200219Z-00000000', '2026-11-25T20:02:19.900Z'));
    await writeReport(store, report('reconcile-20261125T200218Z-aaaaaaaa', '2026-11-25T20:02:18.500Z'));
    await writeReport(store, report('reconcile-20261125T200220Z-11111111', '2026-11-25T20:02:20.001Z'));
    expect((await listReports(store)).map((r) => r.id)).toEqual([
      'reconcile-20261125T200220Z-11111111',
      'replay-20261125T200219Z-00000000',
      'reconcile-20261125T200219Z-ffffffff',
      'reconcile-20261125T200218Z-aaaaaaaa',
    ]);
    // The limit cuts inside a second: the later start of that second is kept.
    expect((await listReports(store, 2)).map((r) => r.id)).toEqual(['reconcile-20261125T200220Z-11111111', 'replay-20261125T200219Z-00000000']);
  });
});
