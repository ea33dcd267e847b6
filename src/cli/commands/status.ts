import { loadContracts, type Contract } from '../../contracts/index.js';
import { LakeloopError, parseDuration, UsageError } from '../../core/index.js';
import { loadModels } from '../../models/index.js';
import { lakeStatus, sourceCountsSince, storageUsage, type LakeStatus, type StorageUsage } from '../../query/index.js';
import { evaluateSourceCompleteness, type SourceCompletenessEvaluation } from '../../observe/index.js';
import { jobsStatus, loadJobs, type JobStatus } from '../../scheduler/index.js';
import { pendingLateDetail } from '../../planner/index.js';
import { listReports, reportTotals } from '../../reconcile/index.js';
import type { Lake } from '../../table/index.js';
import type { CommandContext } from '../command-context.js';
import type { TextSink } from '../io.js';
import { lakePartitionStatus, partitionStatusJson, writePartitionStatus, writePartitionSummary } from '../partition-status.js';
import type { Session } from '../session.js';
import { evaluateCompleteness, type CompletenessEvaluation, type TablePartitionStatus } from '../../state/index.js';
import type { Model } from '../../models/index.js';
import { projectModels } from './project-models.js';
import { formatBytes, formatColumns, formatCount, formatLateness, formatTime, plural } from '../human.js';

export interface StatusOptions {
  readonly json?: boolean;
  /** `--partitions [table]`: every model table's (or one table's) partitions with their status. */
  readonly partitions?: boolean | string;
}

/**
 * `lakeloop status`: every table's version, files, rows, bytes and last commit, grouped
 * by layer, then the project's jobs (`jobs/*.ts`) with their last run from the run ledger
 * and their next fire time, then storage per layer (live bytes against `budgets.storageQuota`,
 * small and unreferenced files). `--json` prints `{ root, sources, tables, layers, jobs, storage }` as
 * the last line. A local lake root that does not exist is an error (`No lake at <root>`, exit 1).
 */
export async function statusCommand(options: StatusOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  if (options.partitions !== undefined && options.partitions !== false) return partitionsCommand(options, context);
  const config = await context.config();
  const jobs = await loadJobs(config.projectDir);
  // A missing local root is an error (exit 1), not an empty lake: a mistyped --lake must not look like a fresh one.
  const session = await context.session({ mustExist: true });
  const { partitions, models } = await modelPartitions(context, session);
  const completeness = completenessOf(partitions, models);
  const status: LakeStatus & {
    readonly jobs: readonly JobStatus[];
    readonly late?: readonly LateStatus[];
    readonly reconciliation?: ReconciliationStatus | null;
    readonly partitions?: ReturnType<typeof partitionStatusJson>['models'];
    readonly storage?: StorageUsage;
    readonly completeness?: readonly CompletenessEvaluation[];
    readonly sourceCompleteness?: readonly SourceCompletenessEvaluation[];
  } = {
    ...(await lakeStatus(session.lake)),
    jobs: await jobsStatus(jobs, session.store),
    late: await lateStatus(session.lake),
    reconciliation: await reconciliationStatus(session.lake),
    partitions: partitionStatusJson(partitions).models,
    storage: await storageUsage(session.lake, { quotaBytes: config.budgets.storageQuota }),
    ...(completeness.length ? { completeness } : {}),
  };
  const contracts = await projectContracts(config.projectDir, context);
  const sourceCompleteness = await sourceCompletenessOf(contracts, session.lake);
  if (sourceCompleteness.length) Object.assign(status, { sourceCompleteness });
  const freshness = freshnessOf(status, contracts, models, Date.now());
  if (freshness.length) Object.assign(status, { freshness });
  const domains = await domainStatus(config.projectDir, context);
  if (options.json) {
    io.stdout.write(`${JSON.stringify(domains.length ? { ...status, domains } : status)}\n`);
    return;
  }
  io.stdout.write(`lake ${status.root}\n`);
  if (status.tables.length === 0) io.stdout.write('no tables yet\n');
  writeTables(status, io.stdout);
  writePartitionSummary(partitions, io.stdout);
  writeFreshness(freshness, io.stdout);
  writeCompleteness(completeness, io.stdout);
  writeSourceCompleteness(sourceCompleteness, io.stdout);
  writeDomains(domains, io.stdout);
  writeLate(status.late ?? [], io.stdout);
  writeReconciliation(status.reconciliation ?? null, io.stdout);
  if (status.storage) writeStorage(status.storage, io.stdout);
  writeJobs(status.jobs, io.stdout);
}

/** The model tables' partition status; a project whose models do not load shows none (`lakeloop run` reports why). */
async function modelPartitions(context: CommandContext, session: Session, tables?: readonly string[]): Promise<{ partitions: TablePartitionStatus[]; models: readonly Model[] }> {
  try {
    const { dag } = await projectModels(context, session);
    return { partitions: await lakePartitionStatus(session.lake, session.engine, dag.models, tables), models: dag.models };
  } catch (error) {
    if (!(error instanceof LakeloopError) || tables) throw error;
    context.verbose(`partition status: ${error.message}`);
    return { partitions: [], models: [] };
  }
}

/** The completeness SLOs of the models that have one (`completeness:` in the header) and a table. */
function completenessOf(partitions: readonly TablePartitionStatus[], models: readonly Model[]): CompletenessEvaluation[] {
  return models.flatMap((m) => {
    const table = partitions.find((t) => t.table === m.name);
    return m.header.completeness && table ? [evaluateCompleteness(table, m.header.completeness)] : [];
  });
}

function writeCompleteness(slos: readonly CompletenessEvaluation[], out: TextSink): void {
  if (slos.length === 0) return;
  out.write('\ncompleteness SLOs:\n');
  for (const c of slos) out.write(`  ${c.model}: ${c.met ? 'met' : 'BREACHED'} — ${c.message}\n`);
}

/** The project's contracts; none when they do not load (other verbs report why). */
async function projectContracts(projectDir: string, context: CommandContext): Promise<Contract[]> {
  try {
    return [...(await loadContracts(projectDir)).values()].sort((a, b) => a.source.localeCompare(b.source));
  } catch (error) {
    if (!(error instanceof LakeloopError)) throw error;
    context.verbose(`source SLOs not shown: ${error.message}`);
    return [];
  }
}

/**
 * The completeness SLOs of the sources whose contract has one, over their window up to now,
 * from the bronze commits' counters (as serve's, which counts the landings it saw itself).
 */
async function sourceCompletenessOf(contracts: readonly Contract[], lake: Lake): Promise<SourceCompletenessEvaluation[]> {
  const nowMs = Date.now();
  const out: SourceCompletenessEvaluation[] = [];
  for (const c of contracts) {
    if (!c.completeness) continue;
    out.push(evaluateSourceCompleteness(c.source, c.completeness, await sourceCountsSince(lake, c.source, nowMs - c.completeness.windowMs)));
  }
  return out;
}

/** A freshness SLO now: the age of the table's last commit against the objective. */
export interface FreshnessEvaluation {
  readonly kind: 'source' | 'model';
  readonly name: string;
  readonly table: string;
  /** The objective as written (`freshness: 15m`). */
  readonly maxAge: string;
  /** Seconds since the table's last commit; null when it has no table yet. */
  readonly ageSeconds: number | null;
  readonly met: boolean;
}

/**
 * The freshness SLOs of the contracts (their bronze table) and models that declare one, as
 * serve evaluates them: breached when the last commit is older than the objective (or there
 * is no table yet). serve measures a source from its last landing; here that is bronze's last commit.
 */
function freshnessOf(status: LakeStatus, contracts: readonly Contract[], models: readonly Model[], nowMs: number): FreshnessEvaluation[] {
  const objectives = [
    ...contracts.flatMap((c) => (c.freshness === undefined ? [] : [{ kind: 'source' as const, name: c.source, table: `bronze.${c.source}`, maxAge: c.freshness }])),
    ...models.flatMap((m) => (m.header.freshness === undefined ? [] : [{ kind: 'model' as const, name: m.name, table: m.name, maxAge: m.header.freshness }])),
  ];
  return objectives.map((o) => {
    const table = status.tables.find((t) => t.name === o.table);
    const ageSeconds = table ? Math.max(0, Math.round((nowMs - table.lastCommitMs) / 1000)) : null;
    return { ...o, ageSeconds, met: ageSeconds !== null && ageSeconds * 1000 <= parseDuration(o.maxAge) };
  });
}

function writeFreshness(slos: readonly FreshnessEvaluation[], out: TextSink): void {
  if (slos.length === 0) return;
  out.write('\nfreshness SLOs:\n');
  for (const f of slos) {
    const age = f.ageSeconds === null ? 'no table yet' : `last commit ${formatLateness(f.ageSeconds)} ago`;
    out.write(`  ${f.kind} ${f.name}: ${f.met ? 'met' : 'BREACHED'} — ${age}, objective ${f.maxAge}\n`);
  }
}

function writeSourceCompleteness(slos: readonly SourceCompletenessEvaluation[], out: TextSink): void {
  if (slos.length === 0) return;
  out.write('\nsource completeness SLOs (landed vs received):\n');
  for (const c of slos) out.write(`  ${c.source}: ${c.met ? 'met' : 'BREACHED'} — ${c.message}\n`);
}

/** `lakeloop status --partitions [table] [--json]`. */
async function partitionsCommand(options: StatusOptions, context: CommandContext): Promise<void> {
  const session = await context.session({ mustExist: true });
  const table = typeof options.partitions === 'string' ? options.partitions : undefined;
  const { partitions: status } = await modelPartitions(context, session, table ? [table] : undefined);
  if (table && !status.some((t) => t.table === table)) {
    throw new UsageError(`No model table ${table}`, 'Name a silver or gold table built from a model file (lakeloop status lists the tables).');
  }
  if (options.json) context.io.stdout.write(`${JSON.stringify(partitionStatusJson(status))}\n`);
  else writePartitionStatus(status, context.io.stdout);
}

/** The sources and models of one domain (the `domain` of contracts and model headers). */
interface DomainStatus {
  readonly domain: string;
  readonly owners: readonly string[];
  readonly sources: readonly string[];
  readonly models: readonly string[];
}

/** The project's domains, sorted; empty when no contract or model names one, or when the project's files do not load (other verbs report that). */
async function domainStatus(projectDir: string, context: CommandContext): Promise<DomainStatus[]> {
  let members: { domain: string; owner: string | undefined; source?: string; model?: string }[];
  try {
    const contracts = await loadContracts(projectDir);
    const models = await loadModels(projectDir);
    members = [
      ...[...contracts.values()].flatMap((c) => (c.domain === undefined ? [] : [{ domain: c.domain, owner: c.owner, source: c.source }])),
      ...models.flatMap((m) => (m.header.domain === undefined ? [] : [{ domain: m.header.domain, owner: m.header.owner, model: m.name }])),
    ];
  } catch (error) {
    if (!(error instanceof LakeloopError)) throw error;
    context.verbose(`domains not shown: ${error.message}`);
    return [];
  }
  return [...new Set(members.map((m) => m.domain))].sort().map((domain) => {
    const of = members.filter((m) => m.domain === domain);
    return {
      domain,
      owners: [...new Set(of.flatMap((m) => (m.owner === undefined ? [] : [m.owner])))].sort(),
      sources: of.flatMap((m) => (m.source === undefined ? [] : [m.source])).sort(),
      models: of.flatMap((m) => (m.model === undefined ? [] : [m.model])).sort(),
    };
  });
}

function writeDomains(domains: readonly DomainStatus[], out: TextSink): void {
  if (domains.length === 0) return;
  out.write('\ndomains:\n');
  const list = (items: readonly string[]): string => (items.length ? items.join(', ') : '-');
  out.write(formatColumns(['domain', 'owners', 'sources', 'models'], domains.map((d) => [d.domain, list(d.owners), list(d.sources), list(d.models)]), { indent: 2 }));
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
        ['source', 'received', 'landed', 'quarantined', 'duplicates', 'batches', 'bytes in', 'last batch', 'keys kept'],
        status.sources.map((s) => [
          s.source,
          formatCount(s.received),
          formatCount(s.landed),
          formatCount(s.quarantined),
          formatCount(s.duplicates),
          formatCount(s.batches),
          formatBytes(s.bytes),
          s.lastBatchMs === null ? '-' : formatTime(s.lastBatchMs),
          formatCount(s.idempotencyKeys),
        ]),
        { right: [false, true, true, true, true, true, true, false, true], indent: 2 },
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

/** Storage per layer: live bytes against the quota, small files, unreferenced bytes (what vacuum can reclaim). */
function writeStorage(storage: StorageUsage, out: TextSink): void {
  if (storage.layers.length === 0) return;
  out.write(`\nstorage (small: files under ${formatBytes(storage.smallFileBytes)}${storage.unreferencedCounted ? '' : '; unreferenced files not counted on a remote lake'}):\n`);
  out.write(
    formatColumns(
      ['layer', 'live', 'quota', 'files', 'small', 'unreferenced'],
      storage.layers.map((l) => [
        l.layer,
        formatBytes(l.liveBytes),
        l.quotaBytes === null ? '-' : `${formatBytes(l.quotaBytes)}${l.overQuota ? ' OVER' : ''}`,
        formatCount(l.files),
        formatCount(l.smallFiles),
        l.unreferencedBytes === null ? '-' : `${formatBytes(l.unreferencedBytes)} in ${plural(l.unreferencedFiles ?? 0, 'file')}`,
      ]),
      { right: [false, true, true, true, true, true], indent: 2 },
    ),
  );
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
    else if (job.last?.reason && job.last.status === 'skipped') out.write(`  ${job.name}: skipped: ${job.last.reason}\n`);
  }
}

