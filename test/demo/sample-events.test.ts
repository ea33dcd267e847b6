import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContracts, type Contract } from '../../src/contracts/index.js';
import { generateSampleEvents, LATE_MAX_MS, LATE_MIN_MS, SAMPLE_COUNTRY_CURRENCY, SAMPLE_SOURCES, toNdjson, type SampleEvent } from '../../src/demo/index.js';
import { Engine } from '../../src/engine/index.js';
import { ingestFile } from '../../src/ingest/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { PROJECT_ROOT } from '../helpers/child.js';

/** The sample feed's generator: deterministic, at the promised rates, and its truth agrees with the real contracts. */
const START = Date.parse('2026-05-01T12:00:00Z');
const STEP_MS = 10;

describe('generateSampleEvents', () => {
  it('is deterministic for a seed, and another seed gives other events', () => {
    const a = generateSampleEvents({ seed: 7, count: 3_000, startMs: START });
    const b = generateSampleEvents({ seed: 7, count: 3_000, startMs: START });
    const c = generateSampleEvents({ seed: 8, count: 3_000, startMs: START });
    expect(b.events).toEqual(a.events);
    expect(c.events.map((e) => e.line)).not.toEqual(a.events.map((e) => e.line));
  });

  it('has about 3% duplicates, 2% late and 0.5% malformed events, over all three sources', () => {
    const count = 40_000;
    const { events, truth } = generateSampleEvents({ seed: 11, count, startMs: START, intervalMs: STEP_MS });
    const share = (kind: string): number => events.filter((e) => e.kind === kind).length / count;
    expect(share('duplicate')).toBeGreaterThan(0.025);
    expect(share('duplicate')).toBeLessThan(0.035);
    expect(share('late')).toBeGreaterThan(0.016);
    expect(share('late')).toBeLessThan(0.024);
    expect(share('malformed')).toBeGreaterThan(0.0035);
    expect(share('malformed')).toBeLessThan(0.0065);
    for (const source of SAMPLE_SOURCES) {
      const t = truth[source];
      expect(t.events).toBe(t.valid + t.duplicates + t.late + t.malformed);
      expect(t.duplicates * t.late * t.malformed).toBeGreaterThan(0);
    }
    expect(truth.page_views.events).toBeGreaterThan(truth.orders.events);
    expect(truth.orders.events).toBeGreaterThan(truth.payments.events);
    expect(new Set(events.flatMap((e) => (e.malformation ? [e.malformation] : [])))).toEqual(new Set(['bad-json', 'wrong-type', 'missing-field']));
  });

  it('re-sends an earlier line unchanged, at least 400 events later; late events are 2 h 10 min to 3 days old', () => {
    const { events } = generateSampleEvents({ seed: 3, count: 20_000, startMs: START, intervalMs: STEP_MS });
    for (const event of events) {
      if (event.kind === 'duplicate') {
        const original = events[event.duplicateOf ?? -1] as SampleEvent;
        expect(event.line).toBe(original.line);
        expect(event.source).toBe(original.source);
        expect(event.index - original.index).toBeGreaterThanOrEqual(400);
        expect(['valid', 'late']).toContain(original.kind);
      }
      if (event.kind === 'late') {
        const age = START + event.index * STEP_MS - event.eventMs;
        expect(age).toBeGreaterThanOrEqual(LATE_MIN_MS);
        expect(age).toBeLessThanOrEqual(LATE_MAX_MS);
      }
    }
  });

  it("charges each country in its own currency, payments in their order's, and amounts in whole cents", () => {
    const { events } = generateSampleEvents({ seed: 5, count: 20_000, startMs: START, intervalMs: STEP_MS, malformedRate: 0 });
    const orders = events.filter((e) => e.source === 'orders').map((e) => JSON.parse(e.line) as { order_id: string; country: string; currency: string; amount: number });
    const countries = new Set(orders.map((o) => o.country));
    expect(countries.size).toBe(Object.keys(SAMPLE_COUNTRY_CURRENCY).length);
    for (const o of orders) expect(o.currency, o.country).toBe(SAMPLE_COUNTRY_CURRENCY[o.country]);
    expect(SAMPLE_COUNTRY_CURRENCY).toMatchObject({ DE: 'EUR', FR: 'EUR', NL: 'EUR', US: 'USD', GB: 'GBP', SE: 'SEK', CH: 'CHF' });
    const currencyOf = new Map(orders.map((o) => [o.order_id, o.currency]));
    const payments = events.filter((e) => e.source === 'payments').map((e) => (JSON.parse(e.line) as { after: { order_id: string; currency: string; amount: number } }).after);
    const ofKnownOrders = payments.filter((p) => currencyOf.has(p.order_id));
    expect(ofKnownOrders.length).toBeGreaterThan(100);
    for (const p of ofKnownOrders) expect(p.currency, p.order_id).toBe(currencyOf.get(p.order_id));
    for (const p of payments) expect(Object.values(SAMPLE_COUNTRY_CURRENCY)).toContain(p.currency);
    // JSON carries each amount with at most two decimals: what DECIMAL(18,2) takes without rounding
    for (const line of events.filter((e) => e.source !== 'page_views').map((e) => e.line)) {
      for (const [, amount] of line.matchAll(/"amount":([^,}]+)/g)) expect(amount).toMatch(/^\d+(\.\d{1,2})?$/);
    }
  });

  it('refuses rates that are not fractions', () => {
    expect(() => generateSampleEvents({ seed: 1, count: 1, startMs: START, lateRate: 2 })).toThrow(/lateRate must be a fraction/);
  });
});

describe('the sample events against the default project contracts', () => {
  let engine: Engine;
  let dir: string;
  let lake: Lake;
  let contracts: ReadonlyMap<string, Contract>;

  beforeAll(async () => {
    engine = await Engine.create({ threads: 2 });
    dir = await mkdtemp(join(tmpdir(), 'lakeloop-sample-events-'));
    lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
    contracts = await loadContracts(PROJECT_ROOT);
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lands every event but the malformed ones, which go to quarantine; late ones land with their old event time', async () => {
    const { bySource, truth, events } = generateSampleEvents({ seed: 21, count: 12_000, startMs: START, intervalMs: STEP_MS });
    const eventTime: Record<string, string> = {};
    for (const source of SAMPLE_SOURCES) {
      const contract = contracts.get(source);
      expect(contract, `contracts/${source}.ts`).toBeDefined();
      eventTime[source] = (contract as Contract).eventTime;
      const file = join(dir, `${source}.ndjson`);
      await writeFile(file, toNdjson(bySource[source]));
      const summary = await ingestFile({ lake, contract: contract as Contract, input: file });
      const t = truth[source];
      expect(summary.received, source).toBe(t.events);
      expect(summary.quarantined, source).toBe(t.malformed);
      expect(summary.landed, source).toBe(t.events - t.malformed);

      const quarantine = await (await lake.table(`quarantine.${source}`)).snapshot();
      const rejected = await engine.all(`SELECT payload, reason FROM (${await quarantine.scanSql(lake.store)}) ORDER BY line`);
      expect(rejected.map((r) => String(r['payload'])).sort(), source).toEqual(
        bySource[source]
          .filter((e) => e.kind === 'malformed')
          .map((e) => e.line)
          .sort(),
      );

      // late rows (and re-sends of late rows) are the only ones more than an hour older than the stream
      const isLate = (e: SampleEvent): boolean => e.kind === 'late' || (e.kind === 'duplicate' && events[e.duplicateOf ?? -1]?.kind === 'late');
      const bronze = await (await lake.table(`bronze.${source}`)).snapshot();
      const old = await engine.all(
        `SELECT count(*) AS n FROM (${await bronze.scanSql(lake.store)}) WHERE "${eventTime[source]}" < TIMESTAMPTZ '2026-05-01 11:00:00+00'`,
      );
      expect(Number(old[0]?.['n']), source).toBe(bySource[source].filter(isLate).length);
    }
  });
});
