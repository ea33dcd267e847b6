import type { Engine } from '../engine/index.js';
import { modelFingerprint, modelVersionOf, withDownstream, type Model } from '../models/index.js';
import { classifyEdit, heldRebuilds, type ModelChangeKind } from '../planner/index.js';
import { partitionKey, type CommitSummary, type DeltaTable, type Lake, type Snapshot } from '../table/index.js';

/**
 * What a model table's partition is, from the tables' logs alone (SPEC issue 14, item 4).
 * When several apply, the first of `STATUS_PRECEDENCE` is the partition's `status`; all
 * are in `statuses`.
 */
export type PartitionStatusKind = 'held' | 'stale_code' | 'pending_late' | 'missing' | 'provisional' | 'exact';

/** Most urgent first: what to do about a partition is what its status says (reconcile fixes held/pending_late/missing/provisional; apply fixes stale_code). */
export const STATUS_PRECEDENCE: readonly PartitionStatusKind[] = Object.freeze(['held', 'stale_code', 'pending_late', 'missing', 'provisional', 'exact']);

/**
 * One partition's status, with what the log says about it.
 *
 * @example
 * { partition: '2026-03-01', status: 'pending_late', statuses: ['pending_late', 'provisional'], pendingLateRows: 2, maxLatenessSeconds: 302400, version: 7, mode: 'stream', fingerprint: '3b9d…', lastExactVersion: 0 }
 */
export interface PartitionStatus {
  /** The partition column's value (`2026-03-01`); `''` for an unpartitioned table (the whole table); a JSON array of values for several partition columns. */
  readonly partition: string;
  readonly status: PartitionStatusKind;
  /** Every status that applies, in precedence order. */
  readonly statuses: readonly PartitionStatusKind[];
  /** Rows the streaming path deferred behind the lateness horizon that no reconcile, replay or full build has applied. */
  readonly pendingLateRows: number;
  /** How late the oldest of them was (seconds of event time), where the run recorded it. */
  readonly maxLatenessSeconds: number | null;
  /** The table version of the commit that last wrote the partition (null: none in the log read, or `missing`). */
  readonly version: number | null;
  /** That commit's `commitInfo.lakeloop.mode` (`stream`, `full`, `reconcile`, `replay`). */
  readonly mode: string | null;
  /** The fingerprint of the code that commit ran (the published version at the time). */
  readonly fingerprint: string | null;
  /** The version of the last exact write (full build, apply, reconcile, replay); null: none in the log read. */
  readonly lastExactVersion: number | null;
}

/** One model table's partitions and what its model file says about it. */
export interface TablePartitionStatus {
  readonly table: string;
  /** The table version read. */
  readonly version: number;
  /** The change between the model file and the published version, when they differ (`lakeloop plan` would show it). */
  readonly pendingChange: ModelChangeKind | null;
  /** Upstream models whose breaking change (pending a plan, or applied while this table's forced rebuild failed) makes its partitions stale too. */
  readonly staleFrom: readonly string[];
  /** The partitions ordered by value, and the partitions `missing` or only `pending_late` that the table lacks. */
  readonly partitions: readonly PartitionStatus[];
}

/** A held partition of the last reconcile, as its report recorded it (`ReconcileReport`, structurally). */
export interface ReconcileOutcome {
  readonly dryRun: boolean;
  readonly models: readonly {
    readonly model: string;
    readonly version: number | null;
    readonly published: number | null;
    readonly partitions: readonly { readonly partition: string; readonly status: string }[];
  }[];
}

/** Options of `partitionStatus`. */
export interface PartitionStatusOptions {
  /** Classifies a model's edit against its published version (only when their fingerprints differ); without it, any difference is taken as breaking. */
  readonly engine?: Engine;
  /**
   * The newest reconcile and replay reports, newest first: the newest that covered a model
   * tells its held partitions; any tells partitions it found to `match` (verified exact
   * when not written since). None: nothing held or verified.
   */
  readonly reconciles?: readonly ReconcileOutcome[];
  /** Only these tables (their upstream is still read for stale code and gaps). */
  readonly tables?: readonly string[];
}

/** Modes of commits that rewrite partitions from all their input: their partitions are exact. */
const EXACT_MODES = new Set(['full', 'reconcile', 'replay']);
/** Log read in steps, newest first, until a full build (every partition written since) or the start. */
const HISTORY_STEPS = [64, 1024, 10_000];

/**
 * Every model table's partitions with their status, derived from the tables' logs (commit
 * infos and the snapshot's file list; no data file is read) and the project's model files:
 *
 * - `exact`: last written by a full build, apply, reconcile or replay of the current code,
 *   or found to `match` by a reconcile or replay (its report) after it was last written;
 * - `provisional`: rewritten by the streaming path since its last exact write;
 * - `pending_late`: late rows deferred behind the horizon, not reconciled since (as `pendingLate`);
 * - `stale_code`: the model's file differs from its published version (not metadata only),
 *   or an upstream model's pending change is breaking;
 * - `held`: held by a blocking test in the last reconcile, not rewritten exactly since;
 * - `missing`: a day the upstream tables all have (their date partitions), within the
 *   table's own first and last day, that the table lacks (date-partitioned models only).
 *
 * @example
 * const status = await partitionStatus(lake, dag.models, { engine, lastReconcile });
 * status.find((t) => t.table === 'gold.daily')?.partitions[0] // { partition: '2026-03-01', status: 'exact', ... }
 */
export async function partitionStatus(lake: Lake, models: readonly Model[], options: PartitionStatusOptions = {}): Promise<TablePartitionStatus[]> {
  const names = new Set(await lake.tables());
  const logs = new Map<string, { table: DeltaTable; snapshot: Snapshot; commits: CommitSummary[] }>();
  for (const model of models) {
    if (!names.has(model.name)) continue;
    const table = await lake.table(model.name);
    logs.set(model.name, { table, snapshot: await table.snapshot(), commits: await commitsSinceFullBuild(table) });
  }
  // Pending changes first: a breaking one makes every model downstream stale too.
  const pending = new Map<string, ModelChangeKind>();
  for (const model of models) {
    const log = logs.get(model.name);
    const record = log ? publishedRecord(log.commits) : undefined;
    if (!record || record.fingerprint === modelFingerprint(model)) continue;
    pending.set(model.name, options.engine ? await classifyEdit(options.engine, record, model) : 'breaking');
  }
  const staleFrom = new Map<string, string[]>();
  for (const [name, change] of pending) {
    if (change !== 'breaking') continue;
    for (const down of withDownstream(models, [name])) if (down.name !== name) staleFrom.set(down.name, [...(staleFrom.get(down.name) ?? []), name]);
  }
  // A forced rebuild an apply left pending (it failed): stale until it is rebuilt.
  for (const [name, log] of logs) {
    for (const held of await heldRebuilds(lake, log.snapshot)) {
      const from = staleFrom.get(name) ?? [];
      if (!from.includes(held.model)) staleFrom.set(name, [...from, held.model]);
    }
  }
  const only = options.tables ? new Set(options.tables) : undefined;
  const out: TablePartitionStatus[] = [];
  for (const model of models) {
    const log = logs.get(model.name);
    if (!log || (only && !only.has(model.name))) continue;
    const change = pending.get(model.name) ?? null;
    const stale = (change !== null && change !== 'metadata' && change !== 'unchanged') || staleFrom.has(model.name);
    const upstreamDays = await upstreamDates(lake, names, model);
    const reports = (options.reconciles ?? []).filter((r) => !r.dryRun).flatMap((r) => r.models.filter((m) => m.model === model.name));
    out.push({
      table: model.name,
      version: log.snapshot.version,
      pendingChange: change,
      staleFrom: staleFrom.get(model.name) ?? [],
      partitions: tablePartitions(log.snapshot, log.commits, { stale, upstreamDays, reports }),
    });
  }
  return out;
}

/** Counts of partitions per status (only statuses that occur). */
export function statusCounts(partitions: readonly PartitionStatus[]): Partial<Record<PartitionStatusKind, number>> {
  const counts: Partial<Record<PartitionStatusKind, number>> = {};
  for (const kind of STATUS_PRECEDENCE) {
    const n = partitions.filter((p) => p.status === kind).length;
    if (n) counts[kind] = n;
  }
  return counts;
}

/** The newest commits back to (and including) the newest full build, or the whole log. */
async function commitsSinceFullBuild(table: DeltaTable): Promise<CommitSummary[]> {
  let commits: CommitSummary[] = [];
  for (const limit of HISTORY_STEPS) {
    commits = await table.history({ limit });
    const full = commits.findIndex((c) => modeOf(c) === 'full');
    if (full >= 0) return commits.slice(0, full + 1);
    if (commits.length < limit) return commits;
  }
  return commits;
}

/** The model version the newest commit that recorded one recorded (as `publishedVersion`: a run's commit without one first means a table built before fingerprints). */
function publishedRecord(commits: readonly CommitSummary[]): ReturnType<typeof modelVersionOf> {
  for (const commit of commits) {
    const record = modelVersionOf(commit.commitInfo);
    if (record) return record;
    const mode = modeOf(commit);
    if (mode === 'stream' || mode === 'full') return undefined;
  }
  return undefined;
}

function modeOf(commit: CommitSummary): string | undefined {
  const mode = (commit.commitInfo as { lakeloop?: { mode?: unknown } }).lakeloop?.mode;
  return typeof mode === 'string' ? mode : undefined;
}

interface Write {
  readonly version: number;
  readonly mode: string;
  readonly fingerprint: string | null;
}

/** The rows of one table, from its snapshot (which partitions exist) and its commits newest first. */
function tablePartitions(
  snapshot: Snapshot,
  commits: readonly CommitSummary[],
  context: { stale: boolean; upstreamDays: ReadonlySet<string> | undefined; reports: readonly ReconcileOutcome['models'][number][] },
): PartitionStatus[] {
  const columns = snapshot.partitionColumns;
  const present = new Set<string>();
  for (const file of snapshot.files) {
    present.add(columns.length === 0 ? '' : columns.length === 1 ? String(file.partitionValues[columns[0] as string] ?? '') : partitionKey(columns, file.partitionValues));
  }
  // The code each commit ran: its own record, else the newest older one (reconcile runs the published version).
  const fingerprints: (string | null)[] = new Array<string | null>(commits.length).fill(null);
  let carried: string | null = null;
  for (let i = commits.length - 1; i >= 0; i--) {
    carried = modelVersionOf((commits[i] as CommitSummary).commitInfo)?.fingerprint ?? carried;
    fingerprints[i] = carried;
  }
  const lastWrite = new Map<string, Write>();
  const lastExact = new Map<string, number>();
  const rows = new Map<string, number>();
  const lateness = new Map<string, number>();
  const applied = new Set<string>();
  let allWritten: Write | undefined;
  let allExact: number | undefined;
  commits.forEach((commit, i) => {
    const record = (commit.commitInfo as { lakeloop?: { mode?: string; partitions?: string[]; deferred?: Record<string, number>; lateness?: Record<string, number> } }).lakeloop;
    const mode = record?.mode;
    if (!record || (mode !== 'stream' && !EXACT_MODES.has(mode ?? ''))) return;
    const write: Write = { version: commit.version, mode: mode as string, fingerprint: fingerprints[i] ?? null };
    const whole = record.partitions === undefined || columns.length === 0;
    if (whole) {
      // A whole-table write (a full build; any write of an unpartitioned table) covers every partition not written since.
      if (columns.length === 0 && mode === 'stream' && (record.partitions?.length ?? 1) === 0) {
        // A run that only deferred rows wrote nothing.
      } else {
        allWritten ??= write;
        if (EXACT_MODES.has(write.mode)) allExact ??= commit.version;
      }
    } else {
      for (const p of record.partitions ?? []) {
        if (allWritten === undefined && !lastWrite.has(p)) lastWrite.set(p, write);
        if (allExact === undefined && EXACT_MODES.has(write.mode) && !lastExact.has(p)) lastExact.set(p, commit.version);
      }
    }
    // Deferred late rows, as `pendingLateDetail` counts them: up to the newest full build, less what reconcile/replay applied.
    if (mode === 'full') return;
    if (mode === 'reconcile' || mode === 'replay') {
      for (const p of whole ? [...present] : (record.partitions ?? [])) applied.add(p);
      return;
    }
    for (const [p, n] of Object.entries(record.deferred ?? {})) {
      if (applied.has(p)) continue;
      rows.set(p, (rows.get(p) ?? 0) + n);
      const seconds = record.lateness?.[p];
      if (typeof seconds === 'number') lateness.set(p, Math.max(lateness.get(p) ?? seconds, seconds));
    }
  });
  // A report's partitions were compared against the table at `published` (or `version`, when it published nothing).
  const seenAt = (m: ReconcileOutcome['models'][number]): number => m.published ?? m.version ?? -1;
  const newest = context.reports[0];
  const heldVersion = newest ? seenAt(newest) : -1;
  const held = new Set((newest?.partitions ?? []).filter((p) => p.status === 'held').map((p) => p.partition));
  const verified = new Map<string, number>();
  for (const m of context.reports) for (const p of m.partitions) if (p.status === 'match' && !verified.has(p.partition)) verified.set(p.partition, seenAt(m));
  const keys = new Set([...present, ...rows.keys(), ...held]);
  if (context.upstreamDays && present.size) {
    const days = [...present].filter(isDay).sort();
    const [first, last] = [days[0], days[days.length - 1]];
    if (first !== undefined && last !== undefined) for (const day of context.upstreamDays) if (day >= first && day <= last) keys.add(day);
  }
  const out: PartitionStatus[] = [];
  for (const partition of [...keys].sort()) {
    const write = lastWrite.get(partition) ?? allWritten;
    const exactVersion = lastExact.get(partition) ?? allExact ?? null;
    const statuses: PartitionStatusKind[] = [];
    if (held.has(partition) && (exactVersion ?? -1) <= heldVersion) statuses.push('held');
    if (context.stale) statuses.push('stale_code');
    if (rows.has(partition)) statuses.push('pending_late');
    if (!present.has(partition) && !rows.has(partition)) statuses.push('missing');
    // A streaming write is provisional, unless a reconcile found the partition to match after it.
    if (present.has(partition) && write && !EXACT_MODES.has(write.mode) && !(write.version <= (verified.get(partition) ?? -1))) statuses.push('provisional');
    if (statuses.length === 0) statuses.push('exact');
    out.push({
      partition,
      status: statuses[0] as PartitionStatusKind,
      statuses,
      pendingLateRows: rows.get(partition) ?? 0,
      maxLatenessSeconds: lateness.get(partition) ?? null,
      version: present.has(partition) ? (write?.version ?? null) : null,
      mode: present.has(partition) ? (write?.mode ?? null) : null,
      fingerprint: present.has(partition) ? (write?.fingerprint ?? null) : null,
      lastExactVersion: present.has(partition) ? exactVersion : null,
    });
  }
  return out;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
function isDay(value: string): boolean {
  return DAY.test(value);
}

/**
 * The days every date-partitioned upstream table has a partition for (their snapshots'
 * file lists): what a date-partitioned model is expected to cover. Undefined when the model
 * is not partitioned by one column or no upstream is partitioned by days.
 */
async function upstreamDates(lake: Lake, names: ReadonlySet<string>, model: Model): Promise<Set<string> | undefined> {
  if (model.header.partitionBy.length !== 1) return undefined;
  let days: Set<string> | undefined;
  for (const up of model.upstream) {
    if (!names.has(up)) continue;
    const snapshot = await (await lake.table(up)).snapshot();
    const column = snapshot.partitionColumns.length === 1 ? (snapshot.partitionColumns[0] as string) : undefined;
    if (column === undefined) continue;
    const values = new Set(snapshot.files.map((f) => String(f.partitionValues[column] ?? '')));
    if (![...values].every(isDay)) continue;
    days = days ? new Set([...days].filter((d) => values.has(d))) : values;
  }
  return days;
}
