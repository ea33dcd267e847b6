import type { ModelVersionRecord } from '../models/index.js';
import type { CommitInfoAction, DeltaTable } from '../table/index.js';

/**
 * What a model's commit records about its progress (`commitInfo.lakeloop`): the upstream
 * versions it consumed, its watermark, and the late rows it left for reconciliation.
 * Written by every model commit; read by the next run to know where to start.
 *
 * @example
 * { model: 'silver.orders', kind: 'incremental_by_key', upstream: { 'bronze.orders': 12 }, maxEventTimeMs: 1767225600000, deferred: { '2026-01-03': 4 } }
 */
export interface ModelProgress {
  readonly model: string;
  readonly kind: string;
  /** Upstream table → the version this commit consumed. */
  readonly upstream: Readonly<Record<string, number>>;
  /** The largest event time seen so far (capped by max_future_skew), epoch ms; the watermark is this − lateness. */
  readonly maxEventTimeMs?: number | undefined;
  /** Output partition → rows behind the horizon this run left for reconciliation. */
  readonly deferred?: Readonly<Record<string, number>> | undefined;
  /**
   * Output partition → how late its deferred rows were, at most, in seconds of event time: the
   * largest event time seen before this run's input minus the oldest deferred event (bronze inputs only).
   */
  readonly lateness?: Readonly<Record<string, number>> | undefined;
  /** `stream` (run), `full` (first run or --full-refresh), `reconcile`, `replay`. */
  readonly mode?: string | undefined;
  /** Output partitions this commit rewrote (absent: the whole table). */
  readonly partitions?: readonly string[] | undefined;
  /** Which code built this version (`ModelVersionRecord`; absent in commits written before fingerprints). */
  readonly modelVersion?: ModelVersionRecord | undefined;
}

/** The `lakeloop` progress record of a commit, when it has one. */
export function progressOf(commitInfo: CommitInfoAction | Readonly<Record<string, unknown>> | undefined): ModelProgress | undefined {
  const raw = (commitInfo as { lakeloop?: unknown } | undefined)?.lakeloop;
  if (!raw || typeof raw !== 'object') return undefined;
  const record = raw as Record<string, unknown>;
  const upstream = record['upstream'];
  if (!upstream || typeof upstream !== 'object') return undefined;
  return record as unknown as ModelProgress;
}

/** Whether two upstream-version maps are equal. */
export function sameVersions(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/**
 * The newest commit of a model's table that recorded progress, within the last `limit`:
 * a run's, or a reconcile's or replay's, which carry the progress of the run before them
 * (advanced over the upstream commits of their own correction run, see `reconcile`).
 */
export async function latestProgress(table: DeltaTable, limit = 100): Promise<ModelProgress | undefined> {
  for (const commit of await table.history({ limit })) {
    const progress = progressOf(commit.commitInfo);
    if (progress) return progress;
  }
  return undefined;
}

/**
 * Rows the streaming path deferred behind the lateness horizon that no reconcile, replay
 * or full run has applied since, per output partition (from the last `limit` commits).
 *
 * @example
 * await pendingLate(await lake.table('gold.daily_revenue')) // Map { '2026-01-03' => 4 }
 */
export async function pendingLate(table: DeltaTable, limit = 1000): Promise<Map<string, number>> {
  return (await pendingLateDetail(table, limit)).rows;
}

/**
 * `pendingLate`, with the largest lateness (seconds of event time, see `ModelProgress.lateness`)
 * of the pending rows per partition, where the runs that deferred them recorded it.
 *
 * @example
 * (await pendingLateDetail(silver)).latenessSeconds // Map { '2001-05-01' => 2585100 }
 */
export async function pendingLateDetail(table: DeltaTable, limit = 1000): Promise<{ rows: Map<string, number>; latenessSeconds: Map<string, number> }> {
  const rows = new Map<string, number>();
  const latenessSeconds = new Map<string, number>();
  const applied = new Set<string>();
  for (const commit of await table.history({ limit })) {
    const record = (commit.commitInfo as { lakeloop?: { mode?: string; partitions?: string[]; deferred?: Record<string, number>; lateness?: Record<string, number> } }).lakeloop;
    if (!record) continue;
    if (record.mode === 'full') break;
    if (record.mode === 'reconcile' || record.mode === 'replay') {
      for (const p of record.partitions ?? []) applied.add(p);
      continue;
    }
    for (const [p, n] of Object.entries(record.deferred ?? {})) {
      if (applied.has(p)) continue;
      rows.set(p, (rows.get(p) ?? 0) + n);
      const seconds = record.lateness?.[p];
      if (typeof seconds === 'number') latenessSeconds.set(p, Math.max(latenessSeconds.get(p) ?? seconds, seconds));
    }
  }
  return { rows, latenessSeconds };
}
