// Pieces the benchmarks share: the orders contract and event generator, timing helpers, and the in-process CLI.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { z } from 'zod';
import { defineContract, type BatchSettings, type Contract } from '../src/contracts/index.js';

/** An orders contract like the default project's, with the batch limits a benchmark wants. */
export function benchOrdersContract(batch: BatchSettings): Contract {
  return defineContract({
    source: 'orders',
    version: 1,
    owner: 'bench',
    key: ['order_id'],
    eventTime: 'order_ts',
    drift: 'rescue',
    batch,
    schema: z.object({
      order_id: z.string(),
      customer_id: z.string(),
      status: z.enum(['placed', 'paid', 'shipped', 'cancelled']),
      amount: z.number().nonnegative(),
      currency: z.enum(['EUR', 'USD', 'GBP', 'SEK', 'JPY']),
      country: z.string().regex(/^[A-Z]{2}$/),
      order_ts: z.iso.datetime({ offset: true }),
      items: z.int().positive(),
      channel: z.enum(['web', 'ios', 'android']),
      coupon: z.string().nullish(),
      note: z.string().optional(),
    }),
  });
}

/** A deterministic pseudo-random source (the same events every run). */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** Order number `n` as one NDJSON line (~250 B), valid under `benchOrdersContract`, over 30 days of October 2026. */
export function orderLine(n: number, random: () => number): string {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  return `${JSON.stringify({
    order_id: `ORD-${String(n).padStart(9, '0')}`,
    customer_id: `C-${Math.floor(random() * 200_000)}`,
    status: pick(['placed', 'paid', 'shipped', 'cancelled']),
    amount: Math.round(random() * 50_000) / 100,
    currency: pick(['EUR', 'USD', 'GBP', 'SEK', 'JPY']),
    country: pick(['DE', 'US', 'GB', 'SE', 'JP', 'FR', 'NL', 'ES', 'IT', 'PL']),
    order_ts: new Date(Date.UTC(2026, 9, 1) + Math.floor(random() * 30 * 86_400_000)).toISOString(),
    items: 1 + Math.floor(random() * 5),
    channel: pick(['web', 'ios', 'android']),
    coupon: random() < 0.3 ? 'SAVE10' : null,
    note: 'x'.repeat(Math.floor(random() * 40)),
  })}\n`;
}

/** Seconds `work` took. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** The median (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** What one in-process `lakeloop` command printed. */
export interface CliOutput {
  readonly stdout: string;
  readonly stderr: string;
  /** The last non-empty stdout line parsed as JSON (where `--json` output goes). */
  json<T = Record<string, unknown>>(): T;
}

/** Runs `lakeloop <argv>` in-process in `cwd` (as a user would, minus the process start); throws on a non-zero exit. */
export async function lakeloop(argv: readonly string[], cwd: string): Promise<CliOutput> {
  // Loaded on first use: the benchmarks that never call the CLI do not pay for loading it.
  const { main } = await import('../src/cli/main.js');
  const { BufferSink } = await import('../src/cli/io.js');
  const stdout = new BufferSink();
  const stderr = new BufferSink();
  const code = await main(argv, { stdout, stderr, cwd, env: {} });
  if (code !== 0) throw new Error(`lakeloop ${argv.join(' ')} exited ${code}: ${stderr.text().trim()}`);
  return {
    stdout: stdout.text(),
    stderr: stderr.text(),
    json: <T>() => JSON.parse(stdout.text().trim().split('\n').at(-1) ?? '') as T,
  };
}

/** Wall and CPU seconds `work` took; CPU is this process's user + system time (DuckDB's threads included), steadier than wall time on a busy machine. */
export async function timedCpu<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; cpuSeconds: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const result = await work();
  const used = process.cpuUsage(cpu);
  return { result, seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

/**
 * Order number `n` as one NDJSON line (~170 B), valid under the default project's `contracts/orders.ts`,
 * its `order_ts` spread over `days` event days from 2026-09-01.
 */
export function defaultOrderLine(n: number, random: () => number, days: number): string {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const coupon = random() < 0.2 ? 'AUTUMN10' : null;
  return `${JSON.stringify({
    order_id: `ord_${n.toString(36).padStart(8, '0')}`,
    customer_id: `cus_${Math.floor(random() * 500_000).toString(36)}`,
    status: pick(['placed', 'paid', 'shipped', 'cancelled']),
    amount: Math.round(random() * 50_000) / 100,
    currency: pick(['EUR', 'USD', 'GBP', 'SEK', 'DKK', 'NOK', 'CHF', 'PLN']),
    country: pick(['DE', 'US', 'GB', 'SE', 'DK', 'NO', 'CH', 'PL', 'FR', 'NL']),
    item_count: 1 + Math.floor(random() * 6),
    channel: pick(['web', 'ios', 'android', 'pos']),
    coupon_code: coupon,
    order_ts: new Date(Date.UTC(2026, 8, 1) + Math.floor(random() * days * 86_400_000)).toISOString(),
  })}\n`;
}

/** Writes `count` lines made by `line(n)` to `path`; returns the bytes written. */
export async function writeLines(path: string, count: number, line: (n: number) => string): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  let chunk = '';
  for (let i = 0; i < count; i++) {
    chunk += line(i);
    if (chunk.length > 1 << 20) {
      bytes += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  bytes += Buffer.byteLength(chunk);
  out.end(chunk);
  await once(out, 'finish');
  return bytes;
}

/**
 * One collector request: `events` orders numbered from `request * events`, seeded by the request;
 * `recent` stamps each with a time in the last 10 minutes (as a live producer sends them),
 * else they keep `orderLine`'s dates over 30 days.
 */
export function orderRequestBody(request: number, events: number, recent: boolean): Buffer {
  const random = seededRandom(request + 1);
  const now = Date.now();
  let text = '';
  for (let i = 0; i < events; i++) {
    const line = orderLine(request * events + i, random);
    text += recent ? line.replace(/"order_ts":"[^"]*"/, `"order_ts":"${new Date(now - Math.floor(random() * 600_000)).toISOString()}"`) : line;
  }
  return Buffer.from(text);
}
