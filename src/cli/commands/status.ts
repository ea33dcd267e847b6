import { LakeloopError } from '../../core/index.js';
import { lakeStatus, type LakeStatus } from '../../query/index.js';
import { jobsStatus, loadJobs, type JobStatus } from '../../scheduler/index.js';
import { pendingLate } from '../../planner/index.js';
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
 * the last line. A local lake root that does not exist yet is an empty lake, not an error.
 */
export async function statusCommand(options: StatusOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const config = await context.config();
  const jobs = await loadJobs(config.projectDir);
  let status: LakeStatus & { readonly jobs: readonly JobStatus[]; readonly late?: readonly LateStatus[]; readonly reconciliation?: ReconciliationStatus | null };
  try {
    const session = await context.session({ mustExist: true });
    status = {
      ...(await lakeStatus(session.lake)),
      jobs: await jobsStatus(jobs, session.store),
      late: await lateStatus(session.lake),
      reconciliation: await reconciliationStatus(session.lake),
    };
  } catch (error) {
    if (!(error instanceof LakeloopError && error.code === 'LAKE_NOT_FOUND')) throw error;
    context.verbose(error.message);
    status = { root: config.lake.root, sources: [], tables: [], layers: [], jobs: await jobsStatus(jobs, undefined) };
  }
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
    const pending = await pendingLate(await lake.table(name), 200);
    if (pending.size === 0) continue;
    out.push({ model: name, rows: [...pending.values()].reduce((a, b) => a + b, 0), partitions: Object.fromEntries([...pending].sort()) });
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
    out.write(`  ${l.model}: ${plural(l.rows, 'row')} in ${parts.map(([p, n]) => `${p} (${n})`).slice(0, 6).join(', ')}${parts.length > 6 ? ', …' : ''}\n`);
  }
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
        ['table', 'version', 'files', 'small', 'rows', 'bytes', 'last commit'],
        tables.map((t) => [t.name, String(t.version), formatCount(t.files), formatCount(t.smallFiles), formatCount(t.rows), formatBytes(t.sizeBytes), formatTime(t.lastCommitMs)]),
        { right: [false, true, true, true, true, true, false], indent: 2 },
      ),
    );
  }
  const piled = status.tables.filter((t) => t.smallFiles > 0);
  if (piled.length > 0) {
    out.write('\nsmall files (compact would merge them; readers pay per file):\n');
    for (const t of piled) {
      out.write(`  ${t.name}: ${formatCount(t.smallFiles)} in ${plural(t.smallFilePartitions, 'partition')} → lakeloop compact ${t.name}\n`);
    }
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

