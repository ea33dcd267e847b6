import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { defineContract } from '../../../src/contracts/index.js';
import { parseModelFile, type Model } from '../../../src/models/index.js';
import { contractChecklist, modelChecklist } from '../../../src/server/index.js';

/** The contracts checklist without a server: what a complete contract shows, and what an unread source lacks. */
describe('contractChecklist', () => {
  it('marks configured items ok, unset batch limits as defaults, and a source no model reads', () => {
    const schema = z.object({ id: z.int(), note: z.string().optional(), ts: z.iso.datetime({ offset: true }) });
    const complete = defineContract({ source: 'events', version: 3, owner: 'ops', key: ['id'], eventTime: 'ts', drift: 'evolve', schema, freshness: '5m', completeness: { minLandedRatio: 0.99 }, runbook: 'https://wiki.example/runbooks/events', batch: { maxRecords: 100, maxMs: 50 } });
    const bare = defineContract({ source: 'audit', version: 1, owner: 'sec', key: ['id'], eventTime: 'ts', schema });
    const [audit, events] = contractChecklist([complete, bare], [], [{ source: 'events', landed: 97, quarantined: 3 }]);
    const by = (list: typeof events): Record<string, [string, string]> => Object.fromEntries((list?.items ?? []).map((i) => [i.item, [i.state, i.detail]]));
    expect(by(events)).toEqual({
      owner: ['ok', 'ops (contract version 3)'],
      runbook: ['ok', 'https://wiki.example/runbooks/events'],
      schema: ['ok', '3 columns, 2 required: id BIGINT, note VARCHAR?, ts TIMESTAMP WITH TIME ZONE'],
      key: ['ok', 'id'],
      event_time: ['ok', 'ts (bronze partitions by its UTC day)'],
      drift: ['ok', 'evolve'],
      lateness: ['default', 'no model reads bronze.events'],
      freshness: ['ok', 'a batch at least every 5m'],
      completeness: ['ok', 'at least 99% of the records received in 15m land'],
      batch: ['ok', 'maxRecords 100, maxMs 50'],
      quarantine: ['ok', '3 of 100 records (3.0%)'],
    });
    expect(events?.missing).toBe(0);
    expect(audit?.source).toBe('audit');
    expect(audit?.missing).toBe(3);
    expect(by(audit)['completeness']?.[0]).toBe('missing');
    expect(by(audit)['freshness']?.[0]).toBe('missing');
    expect(by(audit)['runbook']).toEqual(['missing', "none: add runbook: 'https://…' (or a line saying what to do) to the contract: alerts about audit carry it"]);
    expect(by(audit)['batch']?.[0]).toBe('default');
    expect(by(audit)['quarantine']).toEqual(['ok', 'nothing landed yet']);
  });
});

/** A model as loaded, from its header text (no DuckDB: the checklist reads headers only). */
function model(name: string, header: string): Model {
  const file = `sql/${name.replace('.', '/')}.sql`;
  const parsed = parseModelFile(file, `/*\n${header}\n*/\nSELECT 1 AS x, DATE '2026-01-01' AS d`);
  return { name, file, header: parsed.header, sql: parsed.sql, sqlOffset: parsed.sqlOffset, upstream: [], text: '' } as unknown as Model;
}

describe('modelChecklist', () => {
  it('flags a model without owner, runbook or SLOs, and shows what a complete one declares', () => {
    const complete = model('gold.revenue', 'kind: incremental_by_partition\npartition_by: d\nlateness: 2h\nowner: analytics\nrunbook: page analytics-oncall\nfreshness: 15m\ncompleteness:\n  max_pending_late_rows: 0\n  exact_after: 2d');
    const bare = model('silver.orders', 'kind: incremental_by_partition\npartition_by: d\nlateness: 1h');
    const unbounded = model('silver.events', 'kind: full');
    const [revenue, events, orders] = modelChecklist([complete, bare, unbounded]);
    const by = (c: typeof events): Record<string, [string, string]> => Object.fromEntries((c?.items ?? []).map((i) => [i.item, [i.state, i.detail]]));
    expect(revenue?.model).toBe('gold.revenue');
    expect(by(revenue)).toEqual({
      owner: ['ok', 'analytics'],
      runbook: ['ok', 'page analytics-oncall'],
      freshness: ['ok', 'a commit at least every 15m'],
      completeness: ['ok', 'at most 0 late rows pending, exact after 2d'],
    });
    expect(revenue?.missing).toBe(0);
    expect(orders?.missing).toBe(4);
    expect(by(orders)['owner']).toEqual(['missing', 'none: add owner: <team> to the model header; alerts about silver.orders name them']);
    expect(by(orders)['completeness']?.[1]).toMatch(/^none: late rows wait for reconcile \(lateness 1h\) with no alert/);
    // Without a lateness bound nothing waits for reconcile: no completeness SLO to ask for.
    expect(by(events)['completeness']?.[0]).toBe('default');
    expect(events?.missing).toBe(3);
  });
});
