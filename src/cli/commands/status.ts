import { LakeloopError } from '../../core/index.js';
import { lakeStatus, type LakeStatus } from '../../query/index.js';
import { jobsStatus, loadJobs, type JobStatus } from '../../scheduler/index.js';
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
  let status: LakeStatus & { readonly jobs: readonly JobStatus[] };
  try {
    const session = await context.session({ mustExist: true });
    status = { ...(await lakeStatus(session.lake)), jobs: await jobsStatus(jobs, session.store) };
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
  writeJobs(status.jobs, io.stdout);
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

