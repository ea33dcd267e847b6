import { lakeStatus, type LakeStatus } from '../../query/index.js';
import { jobsStatus, loadJobs, type JobStatus } from '../../scheduler/index.js';
import { pendingLateDetail } from '../../planner/index.js';
import { listReports, reportTotals } from '../../reconcile/index.js';
import type { Lake } from '../../table/index.js';
import type { CommandContext } from '../command-context.js';
import type { TextSink } from '../io.js';
import { formatBytes, formatColumns, formatCount, formatTime, plural } from '../human.js';

export interface StatusOptions {
  readonly json?: boolean;
}

/**
 * `lakeloop status`: every table's version, files, rows, bytes and last commit, grouped
 * by layer, then the project's jobs (`jobs/*.ts`) with their last run from the run ledger
 * and their next fire time. `--json` prints `{ root, sources, tables, layers, jobs }` as
 * the last line. A local lake root that does not exist is an error (`No lake at <root>`, exit 1).
 */
export async function statusCommand(options: StatusOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const config = await context.config();
  const jobs = await loadJobs(config.projectDir);
  // A missing local root is an error (exit 1), not an empty lake: a mistyped --lake must not look like a fresh one.
  const session = await context.session({ mustExist: true });
  const status: LakeStatus & { readonly jobs: readonly JobStatus[]; readonly late?: readonly LateStatus[]; readonly reconciliation?: ReconciliationStatus | null } = {
    ...(await lakeStatus(session.lake)),
    jobs: await jobsStatus(jobs, session.store),
    late: await lateStatus(session.lake),
    reconciliation: await reconciliationStatus(session.lake),
  };
  if (options.json) {
    io.stdout.write(`${JSON.stringify(status)}\n`);
    return;
  }
  io.stdout.write(`lake ${status.root}\n`);
  if (status.tables.length === 0) io.stdout.write('no tables yet\n');
  writeTables(status, io.stdout);
  writeLate(status.late ?? [], io.stdout);
  writeReconciliation(status.reconciliation ?? null, io.stdout);
  writeJobs(status.jobs, io.stdout);
}

/** A model's rows deferred behind its lateness horizon that no reconcile has applied yet. */
interface LateStatus {
  readonly model: string;
  readonly rows: number;
  /** Partition → rows. */
  readonly partitions: Readonly<Record<string, number>>;
  /** How late the pending rows were at most, in seconds of event time (watermark at landing − event time); absent when unknown. */
  readonly maxLatenessSeconds?: number;
}

/** The newest reconcile or replay report, summarised. */
interface ReconciliationStatus {
  readonly id: string;
  readonly kind: string;
  readonly startedAt: string;
  readonly dryRun: boolean;
  readonly totals: Readonly<Record<string, number>>;
  /** `model partition` of every partition that was not `match`. */
  readonly changed: readonly { model: string; partition: string; status: string }[];
  readonly report: string;
}

async function lateStatus(lake: Lake): Promise<LateStatus[]> {
  const out: LateStatus[] = [];
  for (const name of await lake.tables()) {
    if (!name.startsWith('silver.') && !name.startsWith('gold.')) continue;
    const { rows: pending, latenessSeconds } = await pendingLateDetail(await lake.table(name), 200);
    if (pending.size === 0) continue;
    const lateness = [...latenessSeconds.values()];
    out.push({
      model: name,
      rows: [...pending.values()].reduce((a, b) => a + b, 0),
      partitions: Object.fromEntries([...pending].sort()),
      ...(lateness.length ? { maxLatenessSeconds: Math.max(...lateness) } : {}),
    });
  }
  return out;
}

async function reconciliationStatus(lake: Lake): Promise<ReconciliationStatus | null> {
  const [report] = await listReports(lake.store, 1);
  if (!report) return null;
  return {
    id: report.id,
    kind: report.kind,
    startedAt: report.startedAt,
    dryRun: report.dryRun,
    totals: reportTotals(report),
    changed: report.models.flatMap((m) => m.partitions.filter((p) => p.status !== 'match').map((p) => ({ model: m.model, partition: p.partition, status: p.status }))),
    report: `_lakeloop/reports/${report.id}.md`,
  };
}

function writeLate(late: readonly LateStatus[], out: TextSink): void {
  if (late.length === 0) return;
  out.write('\ndeferred late (behind the lateness horizon, waiting for reconcile):\n');
  for (const l of late) {
    const parts = Object.entries(l.partitions);
    const lateness = l.maxLatenessSeconds === undefined ? '' : `, up to ${formatLateness(l.maxLatenessSeconds)} late`;
    out.write(`  ${l.model}: ${plural(l.rows, 'row')} in ${parts.map(([p, n]) => `${p} (${n})`).slice(0, 6).join(', ')}${parts.length > 6 ? ', …' : ''}${lateness}\n`);
  }
}

/** Seconds as the largest whole unit that fits: `45 s`, `12 min`, `5.5 h`, `29.9 days`. */
function formatLateness(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

function writeReconciliation(r: ReconciliationStatus | null, out: TextSink): void {
  if (!r) return;
  const t = r.totals;
  out.write(`\nlast ${r.kind}: ${formatTime(Date.parse(r.startedAt))}${r.dryRun ? ' (dry run)' : ''}: ${t['match'] ?? 0} match, ${t['corrected'] ?? 0} corrected, ${t['held'] ?? 0} held, ${t['failed'] ?? 0} failed — ${r.report}\n`);
  for (const c of r.changed.slice(0, 10)) out.write(`  ${c.model} ${c.partition}: ${c.status}\n`);
  if (r.changed.length > 10) out.write(`  … ${r.changed.length - 10} more in the report\n`);
}

/** The sources' ingestion counters, then one section per layer. */
function writeTables(status: LakeStatus, out: TextSink): void {
  if (status.sources.length > 0) {
    out.write('\nsources:\n');
    out.write(
      formatColumns(
        ['source', 'received', 'landed', 'quarantined', 'duplicates', 'batches', 'bytes in', 'last batch'],
        status.sources.map((s) => [
          s.source,
          formatCount(s.received),
          formatCount(s.landed),
          formatCount(s.quarantined),
          formatCount(s.duplicates),
          formatCount(s.batches),
          formatBytes(s.bytes),
          s.lastBatchMs === null ? '-' : formatTime(s.lastBatchMs),
        ]),
        { right: [false, true, true, true, true, true, true, false], indent: 2 },
      ),
    );
  }
  for (const layer of status.layers) {
    const tables = status.tables.filter((t) => t.layer === layer.layer);
    out.write(
      `\n${layer.layer}: ${plural(layer.tables, 'table')}, ${plural(layer.files, 'file')}, ${plural(layer.rows, 'row')}, ${formatBytes(layer.sizeBytes)}\n`,
    );
    out.write(
      formatColumns(
        ['table', 'version', 'files', 'rows', 'bytes', 'last commit'],
        tables.map((t) => [t.name, String(t.version), formatCount(t.files), formatCount(t.rows), formatBytes(t.sizeBytes), formatTime(t.lastCommitMs)]),
        { right: [false, true, true, true, true, false], indent: 2 },
      ),
    );
  }
}

/** The jobs section: schedule, next fire, and the last run's status, start, duration and error. */
function writeJobs(jobs: readonly JobStatus[], out: TextSink): void {
  if (jobs.length === 0) return;
  out.write('\njobs:\n');
  out.write(
    formatColumns(
      ['job', 'kind', 'schedule', 'next', 'last run', 'status', 'seconds', 'attempts'],
      jobs.map((j) => [
        j.name,
        j.kind,
        j.timezone === 'UTC' ? j.schedule : `${j.schedule} (${j.timezone})`,
        j.next === null ? 'disabled' : formatTime(Date.parse(j.next)),
        j.last === null ? 'never' : formatTime(Date.parse(j.last.startedAt)),
        j.last?.status ?? '-',
        j.last?.seconds == null ? '-' : j.last.seconds.toFixed(1),
        j.last === null ? '-' : String(j.last.attempts),
      ]),
      { right: [false, false, false, false, false, false, true, true], indent: 2 },
    ),
  );
  for (const job of jobs) {
    if (job.last?.error) out.write(`  ${job.name}: ${job.last.status}: ${job.last.error.message}\n`);
  }
}

