import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseDuration } from '../core/index.js';
import { Engine } from '../engine/index.js';
import type { Model } from '../models/index.js';
import { dateStartMs, sameVersions, utcDate } from '../planner/index.js';
import type { DataTestResult } from '../runner/index.js';
import type { Lake } from '../table/index.js';
import { newestEventMs, reconcile, type ChunkTag, type PublishedVersions, type ReconcileOptions } from './reconcile.js';
import { writeReport, type ModelReport, type ReconcileReport } from './report.js';

const DAY_MS = 86_400_000;

/**
 * Days per chunk by default. Measured with `npm run bench -- reconcile-chunked` (365 days of
 * the sales project, quiet machine): 60-day chunks cost ~1.2× the one shot, 30-day ~1.4×,
 * 90-day ~1.1–1.2×, 14-day ~2× (each chunk adds its diffs and commits); 60 meets the 1.3×
 * target and keeps what a kill loses, and the progress steps, to two months.
 */
export const DEFAULT_CHUNK_DAYS = 60;

/** One step of a chunked reconcile, for progress displays. */
export interface ChunkEvent {
  /** `start`: the chunk begins; `done`: its corrections are published. */
  readonly phase: 'start' | 'done';
  /** 1-based. */
  readonly index: number;
  readonly of: number;
  readonly from: string;
  readonly to: string;
  /** Chunks an earlier, interrupted run of the same command published, skipped by this one. */
  readonly skipped: readonly number[];
  /** Partitions corrected in this chunk (on `done`). */
  readonly corrected: number;
  readonly elapsedSeconds: number;
  /** Estimated seconds left, from the chunks run so far (undefined before the first is done). */
  readonly etaSeconds: number | undefined;
}

/** Options of `reconcileInChunks`: those of `reconcile`, plus the chunk size and progress hooks. */
export interface ChunkedReconcileOptions extends ReconcileOptions {
  /** Days per chunk (default `DEFAULT_CHUNK_DAYS`); 0 runs the window in one shot. */
  readonly chunkDays?: number | undefined;
  /** Called when a chunk starts and when it is published. */
  readonly onChunk?: ((event: ChunkEvent) => void) | undefined;
  /** Awaited after each chunk is published (e.g. to refresh the catalog), before the next starts. */
  readonly afterChunk?: ((event: ChunkEvent) => Promise<void>) | undefined;
}

/**
 * `reconcile` of a long explicit window (`from` and/or `to`) in chunks of `chunkDays` days:
 * each chunk recomputes its days for every partition-local model in DAG order and publishes
 * each table's corrections of the chunk in one commit, tagged with the run (a hash of the
 * command: kind, window, chunk size, the models' definitions), the chunk's index and the
 * versions of the run's sources (bronze) when it began. A re-run of the same command reads
 * the tables' logs and, when the sources have not changed since, resumes at the last chunk
 * that published anything (re-running it, which is idempotent); otherwise every chunk runs
 * again. Models that are not partition-local — `full` models, `incremental_by_key` models
 * reading another model of the run, and what reads them — are recomputed once, over the
 * whole window, in the last chunk. The default window, a dry run, `chunkDays` 0 or a
 * window of one chunk run in one shot (`reconcile`). One report covers all chunks.
 *
 * @example
 * const report = await reconcileInChunks(lake, dag.models, { from: '2025-01-01', to: '2025-12-31', chunkDays: 30 });
 * report.chunks // { run: '3f2a9c0e1b7d4a66', days: 30, count: 13, skipped: [] }
 */
export async function reconcileInChunks(lake: Lake, models: readonly Model[], options: ChunkedReconcileOptions = {}): Promise<ReconcileReport> {
  const kind = options.kind ?? 'reconcile';
  const chunkDays = options.chunkDays ?? DEFAULT_CHUNK_DAYS;
  const window = chunkDays > 0 && !options.dryRun ? await explicitWindow(lake, models, options) : undefined;
  const chunks = window ? split(window, chunkDays) : [];
  const { local, whole } = partitionLocal(models);
  if (chunks.length < 2 || local.length === 0 || !window) return reconcile(lake, models, options);

  const started = performance.now();
  const id = options.reportId ?? `${kind}-${new Date(lake.nowMs()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomUUID().slice(0, 8)}`;
  const run = runId(kind, window, chunkDays, models);
  const sources = await sourceVersions(lake, models);
  const publishedVersions: PublishedVersions = new Map();
  const resumeAt = await publishedChunk(lake, models, run, sources, chunks.length, publishedVersions);
  const skipped = Array.from({ length: Math.max(0, resumeAt - 1) }, (_, i) => i + 1);

  const parts: ReconcileReport[] = [];
  let ranHere = 0;
  const circuit = await Engine.create({ threads: 1, memoryLimit: '1GB', ...options.engine });
  const limits = await circuit.limits().catch(async (error: unknown) => {
    await circuit.close();
    throw error;
  });
  try {
    for (const [i, chunk] of chunks.entries()) {
      const index = i + 1;
      if (index < resumeAt) continue;
      const event = (phase: 'start' | 'done', corrected: number): ChunkEvent => {
        const elapsedSeconds = (performance.now() - started) / 1000;
        const left = chunks.length - index + (phase === 'start' ? 1 : 0);
        return { phase, index, of: chunks.length, ...chunk, skipped, corrected, elapsedSeconds, etaSeconds: ranHere > 0 ? (elapsedSeconds / ranHere) * left : undefined };
      };
      options.onChunk?.(event('start', 0));
      const tag: ChunkTag = { run, index, of: chunks.length, sources };
      const common: ReconcileOptions = { ...options, kind, window: undefined, chunk: tag, reportId: id, writeReport: false, publishedVersions, circuit };
      const done: ReconcileReport[] = [await reconcile(lake, local, { ...common, ...chunk })];
      if (index === chunks.length && whole.length) done.push(await reconcile(lake, whole, { ...common, from: window.from, to: window.to }));
      parts.push(...done);
      ranHere++;
      const finished = event('done', done.reduce((n, r) => n + r.models.reduce((m, x) => m + x.partitions.filter((p) => p.status === 'corrected').length, 0), 0));
      options.onChunk?.(finished);
      await options.afterChunk?.(finished);
    }
  } finally {
    await circuit.close();
  }

  const report: ReconcileReport = {
    id,
    kind,
    dryRun: false,
    startedAt: new Date(lake.nowMs() - (performance.now() - started)).toISOString(),
    seconds: (performance.now() - started) / 1000,
    models: models.flatMap((m) => {
      const reports = parts.flatMap((p) => p.models.filter((r) => r.model === m.name));
      return reports.length ? [mergeModelReports(reports)] : [];
    }),
    window: { from: window.from, to: window.to, latePartitions: [] },
    chunks: { run, days: chunkDays, count: chunks.length, skipped },
    circuit: limits,
  };
  if (options.writeReport ?? true) await writeReport(lake.store, report);
  return report;
}

/** The window given by `from` and/or `to`, resolved as `reconcile` resolves it; undefined for the default window or an invalid one (left to `reconcile` to refuse). */
async function explicitWindow(lake: Lake, models: readonly Model[], options: ReconcileOptions): Promise<{ from: string; to: string } | undefined> {
  const { from, to } = options;
  if (from === undefined && to === undefined) return undefined;
  if ((from !== undefined && dateStartMs(from) === undefined) || (to !== undefined && dateStartMs(to) === undefined)) return undefined;
  let window: { from: string; to: string };
  if (from !== undefined && to !== undefined) window = { from, to };
  else if (from !== undefined) window = { from, to: utcDate(Math.max(lake.nowMs(), (await newestEventMs(lake, models, options.eventTimeColumns)) ?? lake.nowMs())) };
  else {
    let windowMs: number;
    try {
      windowMs = parseDuration(options.window ?? '7d', 'window');
    } catch {
      return undefined;
    }
    window = { from: utcDate((dateStartMs(to as string) as number) - windowMs), to: to as string };
  }
  return window.from <= window.to ? window : undefined;
}

/** Consecutive chunks of `days` days covering the window (the last one may be shorter). */
function split(window: { from: string; to: string }, days: number): { from: string; to: string }[] {
  const end = dateStartMs(window.to) as number;
  const out: { from: string; to: string }[] = [];
  for (let ms = dateStartMs(window.from) as number; ms <= end; ms += days * DAY_MS) out.push({ from: utcDate(ms), to: utcDate(Math.min(end, ms + (days - 1) * DAY_MS)) });
  return out;
}

/**
 * Models whose partitions of a chunk depend only on the same chunk of the models before them
 * (`local`), and the others (`whole`): `full` models, `incremental_by_key` models reading
 * another model of the run (a key's newest version may sit in a later chunk not yet
 * corrected), and everything downstream of one of those.
 */
function partitionLocal(models: readonly Model[]): { local: Model[]; whole: Model[] } {
  const names = new Set(models.map((m) => m.name));
  const wholeNames = new Set<string>();
  for (const model of models) {
    const readsRunModel = model.upstream.some((u) => names.has(u));
    if (model.header.kind === 'full' || (model.header.kind === 'incremental_by_key' && readsRunModel) || model.upstream.some((u) => wholeNames.has(u))) wholeNames.add(model.name);
  }
  return { local: models.filter((m) => !wholeNames.has(m.name)), whole: models.filter((m) => wholeNames.has(m.name)) };
}

/** The run's identity: the same command over the same window with the same model definitions gets the same id. */
function runId(kind: string, window: { from: string; to: string }, chunkDays: number, models: readonly Model[]): string {
  const definition = JSON.stringify({ kind, ...window, chunkDays, models: models.map((m) => [m.name, m.sql]) });
  return createHash('sha256').update(definition).digest('hex').slice(0, 16);
}

/** The current versions of the tables the run reads but does not recompute (bronze). */
async function sourceVersions(lake: Lake, models: readonly Model[]): Promise<Record<string, number>> {
  const names = new Set(models.map((m) => m.name));
  const out: Record<string, number> = {};
  for (const name of [...new Set(models.flatMap((m) => m.upstream))].filter((n) => !names.has(n)).sort()) {
    const table = await lake.tableIfExists(name);
    out[name] = table ? (await table.snapshot()).version : -1;
  }
  return out;
}

/**
 * The chunk to resume at (1: start over): the highest chunk of this run that committed with
 * the sources as they are now. Chunks run one after the other, so every chunk before it was
 * published whole; that chunk itself may have been cut between two tables' commits, so it is
 * run again (a table already corrected finds its partitions `match`). The run's commits found
 * are added to `published`, so the progress the next commits carry stays continuous.
 */
async function publishedChunk(lake: Lake, models: readonly Model[], run: string, sources: Readonly<Record<string, number>>, of: number, published: PublishedVersions): Promise<number> {
  let resumeAt = 1;
  for (const model of models) {
    const table = await lake.tableIfExists(model.name);
    if (!table) continue;
    // Unchanged sources mean no streaming run committed since: the run's commits are the newest ones.
    for (const commit of await table.history({ limit: 50 + 2 * of })) {
      const tag = (commit.commitInfo as { lakeloop?: { chunk?: ChunkTag } } | undefined)?.lakeloop?.chunk;
      if (tag?.run !== run || tag.of !== of || !sameVersions(tag.sources, sources)) continue;
      resumeAt = Math.max(resumeAt, tag.index);
      published.set(model.name, (published.get(model.name) ?? new Set()).add(commit.version));
    }
  }
  return resumeAt;
}

/** One model's reports of several chunks as one: every chunk's partitions, the version before the first and the last one published. */
function mergeModelReports(reports: readonly ModelReport[]): ModelReport {
  const first = reports[0] as ModelReport;
  const tests = new Map<string, DataTestResult>();
  const rank = { pass: 0, warn: 1, fail: 2 };
  for (const t of reports.flatMap((r) => r.tests)) {
    const seen = tests.get(t.test);
    if (!seen) tests.set(t.test, t);
    else tests.set(t.test, { ...(rank[t.status] > rank[seen.status] ? t : seen), failures: seen.failures + t.failures });
  }
  return {
    model: first.model,
    kind: first.kind,
    from: reports.reduce((min, r) => (r.from < min ? r.from : min), first.from),
    to: reports.reduce((max, r) => (r.to > max ? r.to : max), first.to),
    version: first.version,
    published: reports.reduce<number | null>((last, r) => r.published ?? last, null),
    partitions: reports.flatMap((r) => r.partitions),
    tests: [...tests.values()],
    seconds: reports.reduce((s, r) => s + (r.seconds ?? 0), 0),
  };
}
