import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Contract } from '../../src/contracts/index.js';
import { parseDuration } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { Collector } from '../../src/server/index.js';
import { LocalObjectStore, type ObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { Breakdown, sqlKind, storeKind } from '../breakdown.js';
import { benchOrdersContract, orderLine, seededRandom } from '../support.js';

/**
 * The HTTP collector on loopback: 64 concurrent clients (in a child process, over keep-alive
 * connections) each POST 100 events (~250 B each) with an Idempotency-Key and wait for the
 * ack (= the bronze commit) before sending the next. Reports sustained events/s, ack latency
 * percentiles, the collector process's CPU per event, and where a batch's time goes: first with
 * event times over 30 days (each batch writes a file into each of ~30 date partitions), then
 * with event times of the last 10 minutes, as a live producer sends them (one or two dates).
 */
/** LAKELOOP_BENCH_COLLECTOR_WINDOW (a duration): the contract's idempotencyWindow, shorter than a phase to see its keys expire. */
const contract = withWindow(benchOrdersContract({ maxRecords: 5_000, maxMs: 100 }), process.env['LAKELOOP_BENCH_COLLECTOR_WINDOW']);

function withWindow(base: Contract, window: string | undefined): Contract {
  return window === undefined ? base : { ...base, idempotencyWindow: window, idempotencyWindowMs: parseDuration(window) };
}

const EVENTS_PER_REQUEST = 100;
const CLIENTS = 64;
const ROOT = join(import.meta.dirname, '..', '..');

interface ClientReport {
  readonly events: number;
  readonly requests: number;
  readonly seconds: number;
  readonly latencies: number[];
  readonly cpuSeconds: number;
}

function runClients(url: string, seconds: number, first: number, spread: 'days' | 'recent'): Promise<ClientReport> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'run-ts.js'), join(ROOT, 'bench', 'fixtures', 'collector-client.ts'), url, String(CLIENTS), String(EVENTS_PER_REQUEST), String(seconds), String(first), spread],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`the client process exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as ClientReport);
    });
  });
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** One measured phase: `spread` picks the events' times (30 days of October 2026, or the last 10 minutes). */
async function measure(
  context: BenchContext,
  parts: { collector: Collector; breakdown: Breakdown },
  name: string,
  spread: 'days' | 'recent',
  first: number,
): Promise<BenchResult[]> {
  const { collector, breakdown } = parts;
  // LAKELOOP_BENCH_COLLECTOR_S: a longer phase shows whether the per-batch cost grows with the table and its keys.
  const seconds = Number(process.env['LAKELOOP_BENCH_COLLECTOR_S'] ?? (context.quick ? 3 : 10));
  const before = (await collector.counters())['orders'];
  breakdown.clear();
  const load = loadavg();
  const cpu = process.cpuUsage();
  const client = await runClients(collector.url, seconds, first, spread);
  const used = process.cpuUsage(cpu);
  const after = (await collector.counters())['orders'];
  const batches = Math.max(1, (after?.batches ?? 0) - (before?.batches ?? 0));
  const landingMs = (after?.landingMs ?? 0) - (before?.landingMs ?? 0);
  const { latencies, events } = client;
  const pct = (p: number): number => round1(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  const serverCpu = (used.user + used.system) / 1e6;
  const cpuPerEvent = round1((serverCpu * 1e6) / Math.max(1, events));
  const log = (message: string): void => context.log(`${name}: ${message}`);
  log(`load average ${load.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after`);
  log(`${events} events in ${client.seconds.toFixed(1)} s over ${client.requests} requests, ${batches} batches (${Math.round(events / batches)} events each)`);
  log(`CPU: collector ${serverCpu.toFixed(2)} s (${cpuPerEvent} µs/event), clients ${client.cpuSeconds.toFixed(2)} s (${((client.cpuSeconds * 1e6) / Math.max(1, events)).toFixed(1)} µs/event)`);
  log(`idempotency keys remembered: ${after?.idempotencyKeys ?? 'n/a'} (window ${contract.idempotencyWindow ?? 'none'})`);
  log(`per batch: ${(landingMs / batches).toFixed(1)} ms landing (wall, mean), of which:`);
  let accounted = 0;
  for (const [kind, ms] of [...breakdown.spent.entries()].sort((a, b) => b[1] - a[1])) {
    accounted += ms / batches;
    log(`  ${(ms / batches).toFixed(1).padStart(7)} ms  (CPU ${((breakdown.cpu.get(kind) ?? 0) / batches).toFixed(1).padStart(6)} ms)  ${kind}`);
  }
  log(`  ${(landingMs / batches - accounted).toFixed(1).padStart(7)} ms                 the rest (spool write, snapshot and actions in JS; concurrent calls overlap)`);
  return [
    {
      name,
      value: Math.round(events / client.seconds),
      unit: 'events/s',
      baseline: null,
      ratio: null,
      target: '>= 50000',
      details: {
        p50Ms: pct(0.5),
        p99Ms: pct(0.99),
        clients: CLIENTS,
        eventsPerRequest: EVENTS_PER_REQUEST,
        requests: client.requests,
        batches,
        seconds: round1(client.seconds),
        batchMs: round1(landingMs / batches),
        cpuUsPerEvent: cpuPerEvent,
        clientCpuUsPerEvent: round1((client.cpuSeconds * 1e6) / Math.max(1, events)),
        loadAvg1m: round1(load[0] ?? 0),
      },
    },
    { name: `${name}-ack-p50`, value: pct(0.5), unit: 'ms', baseline: null, ratio: null, target: null },
    { name: `${name}-ack-p99`, value: pct(0.99), unit: 'ms', baseline: null, ratio: null, target: '< 1000' },
    { name: `${name}-cpu-per-event`, value: cpuPerEvent, unit: 'µs', baseline: null, ratio: null, target: null },
  ];
}

const benchmark: Benchmark = {
  name: 'collector',
  description:
    'POST /ingest/<source> over loopback, 64 clients × 100 events: sustained events/s, ack latency (ack = bronze commit), CPU per event, batch breakdown; ' +
    'events over 30 days (collector), then of the last 10 minutes (collector-recent)',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const breakdown = new Breakdown();
    // The collector's circuit as serve opens it (budgets.circuits.collector: 1 thread by default);
    // LAKELOOP_BENCH_COLLECTOR_THREADS compares another thread count.
    const threads = Number(process.env['LAKELOOP_BENCH_COLLECTOR_THREADS'] ?? 1);
    context.log(`collector circuit: ${threads} DuckDB thread(s)`);
    const engine = breakdown.proxy(await Engine.create({ threads }), sqlKind);
    const store: ObjectStore = breakdown.proxy(await LocalObjectStore.create(join(context.workDir, 'lake')), storeKind);
    const lake = await Lake.open({ store, engine });
    const collector = await Collector.create({ lake, contracts: new Map([['orders', contract]]), port: 0, instanceId: 'bench' });
    try {
      // warm-up: creates the tables
      const random = seededRandom(1);
      let body = '';
      for (let i = 0; i < EVENTS_PER_REQUEST; i++) body += orderLine(i, random);
      await fetch(`${collector.url}/ingest/orders`, { method: 'POST', body });
      const parts = { collector, breakdown };
      return [...(await measure(context, parts, 'collector', 'days', 1)), ...(await measure(context, parts, 'collector-recent', 'recent', 10_000_000))];
    } finally {
      await collector.close();
      await engine.close();
    }
  },
};

export default benchmark;
