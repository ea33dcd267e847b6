import { join } from 'node:path';
import { Engine } from '../../src/engine/index.js';
import { Collector } from '../../src/server/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { benchOrdersContract, orderLine, seededRandom } from '../support.js';

/**
 * The HTTP collector in-process on loopback: a few concurrent clients each POST batches of
 * 100 events (~250 B each) with an Idempotency-Key and wait for the ack (= the bronze
 * commit) before sending the next. Reports sustained events/s and ack latency percentiles.
 */
const contract = benchOrdersContract({ maxRecords: 5_000, maxMs: 100 });

const EVENTS_PER_REQUEST = 100;
const CLIENTS = 64;

function requestBody(request: number): string {
  const random = seededRandom(request + 1);
  let text = '';
  for (let i = 0; i < EVENTS_PER_REQUEST; i++) text += orderLine(request * EVENTS_PER_REQUEST + i, random);
  return text;
}

const benchmark: Benchmark = {
  name: 'collector',
  description: 'POST /ingest/<source> over loopback: sustained events/s and ack latency (ack = bronze commit)',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const seconds = context.quick ? 3 : 10;
    const engine = await Engine.create({});
    const lake = await Lake.open({ store: await LocalObjectStore.create(join(context.workDir, 'lake')), engine });
    const collector = await Collector.create({ lake, contracts: new Map([['orders', contract]]), port: 0, instanceId: 'bench' });
    const latencies: number[] = [];
    let next = 0;
    let events = 0;
    try {
      // warm-up: creates the tables
      await fetch(`${collector.url}/ingest/orders`, { method: 'POST', body: requestBody(next++) });
      const started = performance.now();
      const deadline = started + seconds * 1000;
      const client = async (): Promise<void> => {
        while (performance.now() < deadline) {
          const request = next++;
          const sent = performance.now();
          const response = await fetch(`${collector.url}/ingest/orders`, { method: 'POST', body: requestBody(request), headers: { 'idempotency-key': `r-${request}` } });
          const reply = (await response.json()) as { landed?: number };
          if (response.status !== 200) throw new Error(`request ${request}: status ${response.status} ${JSON.stringify(reply)}`);
          latencies.push(performance.now() - sent);
          events += reply.landed ?? 0;
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, client));
      const elapsed = (performance.now() - started) / 1000;
      const counters = (await collector.counters())['orders'];
      latencies.sort((a, b) => a - b);
      const pct = (p: number): number => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0) * 10) / 10;
      const rate = events / elapsed;
      context.log(`${events} events in ${elapsed.toFixed(1)} s over ${latencies.length} requests, ${counters?.batches ?? 0} batches`);
      return [
        {
          name: 'collector',
          value: Math.round(rate),
          unit: 'events/s',
          baseline: null,
          ratio: null,
          target: null,
          details: { p50Ms: pct(0.5), p99Ms: pct(0.99), clients: CLIENTS, eventsPerRequest: EVENTS_PER_REQUEST, requests: latencies.length, batches: counters?.batches ?? 0, seconds: Math.round(elapsed * 10) / 10 },
        },
        { name: 'collector-ack-p50', value: pct(0.5), unit: 'ms', baseline: null, ratio: null, target: null },
        { name: 'collector-ack-p99', value: pct(0.99), unit: 'ms', baseline: null, ratio: null, target: null },
      ];
    } finally {
      await collector.close();
      await engine.close();
    }
  },
};

export default benchmark;
