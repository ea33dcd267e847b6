import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { defineContract } from '../../../src/contracts/index.js';
import { contractChecklist } from '../../../src/server/index.js';

/** The contracts checklist without a server: what a complete contract shows, and what an unread source lacks. */
describe('contractChecklist', () => {
  it('marks configured items ok, unset batch limits as defaults, and a source no model reads', () => {
    const schema = z.object({ id: z.int(), note: z.string().optional(), ts: z.iso.datetime({ offset: true }) });
    const complete = defineContract({ source: 'events', version: 3, owner: 'ops', key: ['id'], eventTime: 'ts', drift: 'evolve', schema, freshness: '5m', batch: { maxRecords: 100, maxMs: 50 } });
    const bare = defineContract({ source: 'audit', version: 1, owner: 'sec', key: ['id'], eventTime: 'ts', schema });
    const [audit, events] = contractChecklist([complete, bare], [], [{ source: 'events', landed: 97, quarantined: 3 }]);
    const by = (list: typeof events): Record<string, [string, string]> => Object.fromEntries((list?.items ?? []).map((i) => [i.item, [i.state, i.detail]]));
    expect(by(events)).toEqual({
      owner: ['ok', 'ops (contract version 3)'],
      schema: ['ok', '3 columns, 2 required: id BIGINT, note VARCHAR?, ts TIMESTAMP WITH TIME ZONE'],
      key: ['ok', 'id'],
      event_time: ['ok', 'ts (bronze partitions by its UTC day)'],
      drift: ['ok', 'evolve'],
      lateness: ['default', 'no model reads bronze.events'],
      freshness: ['ok', 'a batch at least every 5m'],
      batch: ['ok', 'maxRecords 100, maxMs 50'],
      quarantine: ['ok', '3 of 100 records (3.0%)'],
    });
    expect(events?.missing).toBe(0);
    expect(audit?.source).toBe('audit');
    expect(audit?.missing).toBe(1);
    expect(by(audit)['freshness']?.[0]).toBe('missing');
    expect(by(audit)['batch']?.[0]).toBe('default');
    expect(by(audit)['quarantine']).toEqual(['ok', 'nothing landed yet']);
  });
});
