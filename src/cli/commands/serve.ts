import { loadContracts, type Contract } from '../../contracts/index.js';
import { escapeControl, isDuration, messageOf, parseDuration, UsageError } from '../../core/index.js';
import { DEFAULT_SAMPLE_RATES, SAMPLE_SOURCES, SampleFeed, type SampleFeedCounts } from '../../demo/index.js';
import { AlertManager, HumanEventLog, JsonEventLog, ObservedMetrics, ServeObserver, type EventLog, type MetricsSnapshot } from '../../observe/index.js';
import { Engine, type EngineLimits } from '../../engine/index.js';
import { ensureBronzeTable, startConfiguredSources } from '../../ingest/index.js';
import { CatalogRefresher } from '../../query/index.js';
import { publishedModels } from '../../planner/index.js';
import { catalogPath } from '../catalog-refresh.js';
import { PartitionStatusTracker } from '../partition-status.js';
import { loadJobs, Scheduler, type SchedulerLogEvent } from '../../scheduler/index.js';
import { lakeStatus } from '../../query/index.js';
import { jobsStatus } from '../../scheduler/index.js';
import {
  checkJobSelectors,
  Collector,
  CONSOLE_RECONCILE_JOB,
  ConsoleReconcile,
  DecisionLog,
  DEFAULT_FULL_MODEL_EVERY_MS,
  DEFAULT_MAX_BODY_BYTES,
  jobHandlers,
  lineageGraph,
  observeRoutes,
  StreamingLoop,
  WebConsole,
} from '../../server/index.js';
import type { ScanBudgetCheck } from '../../runner/index.js';
import { recomputeInChild } from '../recompute-child.js';
import { eventTimeColumnsOf, projectModels } from './project-models.js';
import type { CommandContext } from '../command-context.js';
import type { ResolvedConfig } from '../../config/index.js';
import { formatCount, plural } from '../human.js';
import { commandRedactor, openLineage } from '../observe-setup.js';
import { drawsOnTerminal } from '../io.js';

/** `--sample-feed` without a number: events per second. */
export const DEFAULT_SAMPLE_FEED_RATE = 200;

export interface ServeOptions {
  readonly port?: string;
  readonly host?: string;
  readonly maxBodyBytes?: string;
  readonly maxInFlightBytes?: string;
  readonly instanceId?: string;
  /** `--sample-feed [events-per-second]`: true when given without a number. */
  readonly sampleFeed?: string | boolean;
  /** `--no-models`: land only, do not run the models after bronze commits. */
  readonly models?: boolean;
  /** `--no-jobs`: do not run the scheduled jobs of `jobs/`. */
  readonly jobs?: boolean;
  /** How often the streaming loop checks bronze for new commits, ms (default 250). */
  readonly pollMs?: string;
  readonly fullEvery?: string;
  /** The bearer token of the console's controls (`POST /api/control/*`); default `$LAKELOOP_CONTROL_TOKEN`; none: the controls are disabled. */
  readonly controlToken?: string;
  /** `--alert-interval <seconds>`: how often alerts are evaluated (default 30). */
  readonly alertInterval?: string;
  /** `--log-format human|json` (default human). */
  readonly logFormat?: string;
}

/**
 * `lakeloop serve`: runs the HTTP collector over the project's contracts, with the web
 * console (`GET /`, its controls behind `--control-token`), `/metrics` and `/status` on
 * the same port, until SIGINT or SIGTERM, then stops the sample feed,
 * stops accepting, commits the open batches, answers their requests and returns (exit 0).
 * Prints `listening on http://HOST:PORT` (the real port for `--port 0`), the status and
 * metrics URLs and, on a terminal, live counters on stderr. `--sample-feed [N]` posts the
 * default project's sample events (N per second) to its own collector over loopback.
 * `--log-format json` prints every line as JSON (landings, model runs, jobs, alerts as
 * structured events); the config's `alerts.webhooks` get the alerts evaluated every
 * `--alert-interval` seconds; lineage goes where `lineage` / `LAKELOOP_LINEAGE_*` say.
 */
export async function serveCommand(options: ServeOptions, context: CommandContext): Promise<void> {
  const logFormat = options.logFormat ?? 'human';
  if (logFormat !== 'human' && logFormat !== 'json') throw new UsageError(`--log-format expects human or json, got ${JSON.stringify(logFormat)}`);
  const alertIntervalMs = intOption('--alert-interval', options.alertInterval ?? '30', 1, 86_400) * 1000;
  const redact = commandRedactor(context);
  // JSON logs: the structured events, and every line serve printed before, as one JSON object a line.
  const jsonLog = logFormat === 'json' ? new JsonEventLog(context.io.stdout, redact) : undefined;
  const eventLog: EventLog = jsonLog ?? new HumanEventLog();
  const io = jsonLog ? { ...context.io, stdout: jsonLog.lines('info'), stderr: jsonLog.lines('warn') } : context.io;
  const verbose = (message: string): void => {
    if (!jsonLog) context.verbose(message);
    else if (context.globals.verbose) eventLog.event('info', 'message', {}, message);
  };
  // Log lines erase the ticker's line first; without a terminal (or with NO_COLOR) there is no ticker and no escape.
  const clearLine = drawsOnTerminal(io.stderr) ? '\r\x1b[2K' : '';
  const port = intOption('--port', options.port ?? '8080', 0, 65_535);
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes === undefined ? undefined : intOption('--max-body-bytes', options.maxBodyBytes, 1, Number.MAX_SAFE_INTEGER);
  const maxInFlightBytes =
    options.maxInFlightBytes === undefined ? undefined : intOption('--max-in-flight-bytes', options.maxInFlightBytes, maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, Number.MAX_SAFE_INTEGER);
  const feedRate = sampleFeedRate(options.sampleFeed);
  const pollMs = options.pollMs === undefined ? undefined : intOption('--poll-ms', options.pollMs, 10, 600_000);
  const controlToken = options.controlToken ?? (io.env['LAKELOOP_CONTROL_TOKEN'] || undefined);
  if (controlToken !== undefined && controlToken.trim().length < 1) throw new UsageError('--control-token expects a non-empty token');
  // Full models on the streaming path run at most every --full-every (none left out when it is 0).
  const fullModelEveryMs = options.fullEvery === undefined ? DEFAULT_FULL_MODEL_EVERY_MS : fullEveryMs(options.fullEvery);
  const config = await context.config();
  const contracts = await loadContracts(config.projectDir);
  if (feedRate !== undefined) checkSampleSources(contracts, config.projectDir);
  const session = await context.session();
  // Listen for SIGINT/SIGTERM before saying "listening": a signal that arrives right after
  // that line must stop the server gracefully, not kill it the default way.
  let onSignal: ((name: NodeJS.Signals) => void) | undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (name: NodeJS.Signals): void => {
      stopListening();
      resolve(name);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  const stopListening = (): void => {
    if (!onSignal) return;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  context.onClose(async () => stopListening());
  let observer: ServeObserver | undefined;
  const metrics = new ObservedMetrics(config.alerts.divergenceSeconds === undefined ? {} : { maxPendingSeconds: config.alerts.divergenceSeconds }, (counts) => observer?.landing(counts));
  let feed: SampleFeed | undefined;
  let loop: StreamingLoop | undefined;
  let scheduler: Scheduler | undefined;
  // The console's reconcile runs as a job of its own scheduler, with the nightly job's handler.
  let consoleScheduler: Scheduler | undefined;
  let consoleReconcile: ConsoleReconcile | undefined;
  const { dag } = await projectModels(context, session);
  const runsModels = options.models !== false && dag.models.length > 0;
  const jobs = options.jobs === false ? [] : await loadJobs(config.projectDir);
  // A job's model selectors are checked against the project now, not when it first fires.
  checkJobSelectors(jobs, dag);
  let partitions: PartitionStatusTracker | undefined;
  const statusExtra = (): Record<string, unknown> => {
    // each read once per request (the console's snapshot asks every second)
    const summary = partitions?.summary();
    const completeness = partitions?.completeness() ?? [];
    const budgetChecks = observer?.budgetChecks() ?? [];
    const sourceCompleteness = observer?.sourceCompleteness() ?? [];
    return {
      ...(feed ? { sampleFeed: feed.counts() } : {}),
      ...(loop ? { streaming: { runs: loop.state.runs, paused: loop.paused, last: loop.state.last.map((s) => ({ model: s.model, mode: s.mode, version: s.version, upstream: s.upstream, rowsOut: s.rowsOut, partitions: s.partitions, deferred: s.deferred, seconds: s.seconds, cost: s.cost, tests: s.tests.map(({ test, status, failures }) => ({ test, status, failures })) })) } } : {}),
      ...(scheduler ? { jobs: scheduler.nextRuns() } : {}),
      ...(summary ? { partitions: summary } : {}),
      ...(completeness.length ? { completeness } : {}),
      circuits: { ...(streamingLimits ? { streaming: streamingLimits } : {}), collector: collectorLimits },
      ...(budgetChecks.length ? { budgetChecks } : {}),
      ...(sourceCompleteness.length ? { sourceCompleteness } : {}),
      // every SLO and alert condition now, firing or not (the console's tables show them)
      ...(observer ? { conditions: observer.conditions().map(({ key, kind, subject, firing, message }) => ({ key, kind, subject, firing, message })) } : {}),
    };
  };
  // The console's decision log: landed batches are told with the run that reads them.
  const decisions = new DecisionLog({ foldLandings: runsModels });
  const web = await WebConsole.create({
    status: () => ({ lake: config.lake.root, ...metrics.snapshot(), ...statusExtra() }),
    tables: () => lakeStatus(session.lake),
    // The console's reconciles are runs of a job of their own: listed with the scheduled ones once one ran.
    jobs: () => jobsStatus(jobs, session.store, { onDemand: runsModels ? [CONSOLE_RECONCILE_JOB] : [] }),
    lineage: lineageGraph([...contracts.keys()], dag.models),
    decisions,
    get control() {
      return loop;
    },
    controlToken,
    partitions: () => partitions?.details(),
    refreshPartitions: () => partitions?.request(),
    get reconcile() {
      return consoleReconcile;
    },
    reports: session.store,
    contracts: [...contracts.values()],
    models: dag.models,
  });
  context.onClose(() => web.close());
  const collectorEngine = await openCollectorCircuit(config);
  const collectorLimits = await collectorEngine.limits();
  const collector = await Collector.create({
    lake: session.lake.withEngine(collectorEngine),
    contracts,
    host,
    port,
    metrics,
    routes: observeRoutes({ metrics, lakeRoot: config.lake.root, extra: statusExtra }),
    endpoints: web.endpoints(),
    onLanding: (outcome) => decisions.recordLanding(outcome),
    ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    ...(maxInFlightBytes !== undefined ? { maxInFlightBytes } : {}),
    ...(options.instanceId !== undefined ? { instanceId: options.instanceId } : {}),
  });
  const pulled = await startConfiguredSources({
    lake: session.lake,
    contracts,
    sources: config.sources,
    configFile: config.file,
    projectDir: config.projectDir,
    storeOptions: { s3: config.lake.s3, env: io.env },
    // Names, keys and reasons come from users and producers: escapeControl keeps each event one line.
    onEvent: (source, message) => io.stderr.write(`${escapeControl(source)}: ${escapeControl(message)}\n`),
  });
  // The streaming path: models run after bronze commits, on their own DuckDB instance.
  const catalogFile = catalogPath(session);
  // Partition status (for /status and the catalog's lakeloop.partition_status) follows the catalog's refreshes, or the runs without a catalog.
  partitions = new PartitionStatusTracker(session.lake, session.engine, dag.models, (error) => context.verbose(`partition status: ${messageOf(error)}`));
  const tracker = partitions;
  const catalog = catalogFile === undefined
    ? undefined
    : new CatalogRefresher(session.lake, catalogFile, (error) => io.stderr.write(`${clearLine}warning: catalog refresh failed: ${escapeControl(messageOf(error))}\n`), undefined, { partitionStatus: () => tracker.refresh().catch((error: unknown) => (context.verbose(`partition status: ${messageOf(error)}`), undefined)) });
  tracker.request();
  metrics.watchSlos(() => ({ held: tracker.held() ?? [], completeness: tracker.completeness() ?? [], budgets: observer?.budgetChecks() ?? [], sources: observer?.sourceCompleteness() ?? [] }));
  const eventTimeColumns = eventTimeColumnsOf(contracts);
  const lineage = openLineage(context, config, session.lake, dag.models, (message) =>
    jsonLog ? eventLog.event('warn', 'lineage_error', { error: redact(message) }, 'lineage sink error') : io.stderr.write(`${clearLine}warning: ${redact(message)}\n`),
  );
  const alerts = config.alerts.webhooks.length
    ? new AlertManager({
        webhooks: config.alerts.webhooks,
        redact,
        onWarning: (message) => (jsonLog ? eventLog.event('warn', 'alert_error', { error: message }, 'alert webhook error') : io.stderr.write(`${clearLine}warning: ${message}\n`)),
        onAlert: (a) =>
          jsonLog
            ? eventLog.event(a.status === 'firing' ? 'warn' : 'info', 'alert', { status: a.status, key: a.key, kind: a.kind, subject: a.subject, ...(a.owner !== undefined ? { owner: a.owner } : {}), ...(a.runbook !== undefined ? { runbook: a.runbook } : {}) }, redact(a.message))
            : io.stderr.write(`${clearLine}alert ${a.status}: ${a.kind} ${escapeControl(a.subject)}: ${escapeControl(redact(a.message))}\n`),
      })
    : undefined;
  observer = new ServeObserver({
    log: eventLog,
    lineage,
    alerts,
    sources: [...contracts.values()].map((c) => ({ name: c.source, freshnessMs: c.freshness === undefined ? undefined : parseDuration(c.freshness), owner: c.owner, runbook: c.runbook, completeness: c.completeness })),
    models: dag.models.map((m) => ({ name: m.name, freshnessMs: m.header.freshness === undefined ? undefined : parseDuration(m.header.freshness), owner: m.header.owner, runbook: m.header.runbook })),
    jobs: [],
    quarantineRate: config.alerts.quarantineRate,
    intervalMs: alertIntervalMs,
    partitions: () => {
      const held = tracker.held();
      const completeness = tracker.completeness();
      return held === undefined ? undefined : { held, completeness: completeness ?? [] };
    },
    divergence: () => metrics.snapshot().backlog,
  });
  // A scan budget over (refused or warned) is logged once per breach, alerted while it lasts.
  const overBudget = new Set<string>();
  const onBudget = (subject: string, check: ScanBudgetCheck): void => {
    observer?.budget(subject, check);
    if (jsonLog) return;
    if (check.over && !overBudget.has(subject)) io.stderr.write(`${clearLine}${subject}: ${check.mode === 'refuse' ? 'skipped' : 'warning'}: ${escapeControl(check.message ?? '')}\nhint: ${escapeControl(check.hint ?? '')}\n`);
    else if (!check.over && overBudget.has(subject)) io.stderr.write(`${clearLine}${subject}: within budgets.maxBytesScannedPerRun again\n`);
    if (check.over) overBudget.add(subject);
    else overBudget.delete(subject);
  };
  const watch = observer;
  let loopEngine: Engine | undefined;
  let streamingLimits: EngineLimits | undefined;
  const cadenced = fullModelEveryMs > 0 ? dag.models.filter((m) => m.header.kind === 'full') : [];
  if (runsModels) {
    const existing = new Set(await session.lake.tables());
    for (const contract of contracts.values()) if (!existing.has(`bronze.${contract.source}`)) await ensureBronzeTable(session.lake, contract);
    // The streaming circuit: budgets.circuits.streaming, else the engine's settings, else 2 threads.
    const budget = config.budgets.circuits.streaming;
    const memoryLimit = budget.memoryLimit ?? config.engine.memoryLimit;
    loopEngine = await Engine.create({ threads: budget.threads ?? config.engine.threads ?? 2, ...(memoryLimit ? { memoryLimit } : {}) });
    streamingLimits = await loopEngine.limits();
    verbose(`streaming circuit: ${streamingLimits.threads} threads, memory_limit ${streamingLimits.memoryLimit}`);
    const loopLake = session.lake.withEngine(loopEngine);
    loop = new StreamingLoop({
      lake: loopLake,
      models: dag.models,
      eventTimeColumns,
      metrics,
      ...(pollMs !== undefined ? { pollMs } : {}),
      fullModelEveryMs,
      budgets: config.budgets,
      onBudget: (check) => onBudget('streaming', check),
      // Read each cycle, so an apply made while serve runs is picked up by the next run.
      modelsForRun: async (models) => (await publishedModels(loopLake, loopLake.engine, models, { classify: false })).models,
      onRun: (summaries, seconds) => {
        watch.modelRuns(summaries, seconds);
        const ran = summaries.filter((s) => !s.skipped);
        if (ran.length) verbose(`streaming: ${seconds.toFixed(2)} s: ${ran.map((s) => `${s.model} ${s.seconds.toFixed(2)} s (${s.rowsIn} in)`).join(', ')}`);
        const late = summaries.reduce((n, s) => n + Object.values(s.deferred).reduce((a, b) => a + b, 0), 0);
        if (late) verbose(`streaming: ${late} late rows deferred to reconcile`);
        if (summaries.some((s) => !s.skipped)) {
          if (catalog) catalog.requestSoon();
          else tracker.request();
        }
        decisions.recordRun(summaries);
      },
      onError: (error) => {
        decisions.recordFailure(error);
        watch.modelFailed(error);
        if (!jsonLog) io.stderr.write(`${clearLine}streaming run failed (retrying with backoff): ${escapeControl(redact(messageOf(error)))}\n`);
      },
      onCompact: (result) => verbose(`streaming: compacted ${result.table}: ${result.filesRewritten} small files → ${result.filesWritten}`),
      onCompactError: (table, error) =>
        io.stderr.write(`${clearLine}warning: compacting ${escapeControl(table)} failed (tried again later): ${escapeControl(messageOf(error))}\n`),
    });
    loop.start();
    for (const m of cadenced) metrics.expectRunsEvery(m.name, fullModelEveryMs);
  }
  const jobLog = (event: SchedulerLogEvent): void => {
    watch.job(event);
    if (!jsonLog) io.stderr.write(`${clearLine}job ${escapeControl(redact(event.message))}\n`);
  };
  const handlers =
    jobs.length || runsModels
      ? jobHandlers({
          lake: session.lake,
          models: dag.models,
          eventTimeColumns,
          // Reconcile and replay jobs run as child processes in the idle scheduling class.
          recompute: recomputeInChild({ cwd: config.projectDir, configFile: config.file, lakeRoot: config.lake.root, env: { ...process.env, ...io.env } }),
          onTablesChanged: () => (catalog ? catalog.request() : tracker.request()),
          budgets: config.budgets,
          onBudget: (job, check) => onBudget(`job:${job}`, check),
          // Only the console's runs are followed line by line (the page shows them).
          progressOf: (job) => (job === CONSOLE_RECONCILE_JOB.name ? (line) => consoleReconcile?.progress(line) : undefined),
          onReport: (report, job) => consoleReconcile?.reported(report, job === CONSOLE_RECONCILE_JOB.name),
        })
      : undefined;
  if (jobs.length && handlers) {
    scheduler = new Scheduler({ jobs, store: session.store, handlers, log: jobLog });
    scheduler.start();
  }
  if (runsModels && handlers) {
    const runner = new Scheduler({ jobs: [CONSOLE_RECONCILE_JOB], store: session.store, handlers, log: jobLog });
    consoleScheduler = runner;
    consoleReconcile = new ConsoleReconcile({
      run: (params, requestedBy) => runner.runNow(CONSOLE_RECONCILE_JOB.name, params, { requestedBy }),
      models: dag.models.map((m) => m.name),
      redact,
      onEnd: (run) =>
        decisions.recordControl(
          run.status === 'succeeded'
            ? `reconcile from the console done${run.totals ? `: ${run.totals.corrected} partitions corrected, ${run.totals.match} matched, ${run.totals.held} held` : ''}${run.request.dryRun ? ' (dry run: nothing published)' : ''} — report ${run.report ?? '(none)'}`
            : `reconcile from the console ${run.status}${run.report ? ` (report ${run.report})` : ''}: ${run.error ?? 'no reason given'}`,
        ),
    });
  }

  observer.start();
  const sources = [...contracts.keys()].sort();
  io.stdout.write(`listening on ${collector.url}\n`);
  io.stdout.write(`sources: ${sources.length ? escapeControl(sources.join(', ')) : '(none: add contracts/<source>.ts)'}; instance ${collector.instanceId}\n`);
  io.stdout.write(`console: ${collector.url}/ (controls ${controlToken === undefined ? 'disabled: no --control-token' : 'need the control token'})\n`);
  io.stdout.write(`status:  ${collector.url}/status\n`);
  io.stdout.write(`metrics: ${collector.url}/metrics\n`);
  verbose(`lake: ${config.lake.root}`);
  for (const line of pulled.descriptions) io.stdout.write(`${escapeControl(line)}\n`);
  if (loop) {
    const every = dag.models.filter((m) => !cadenced.includes(m));
    const { pending } = await publishedModels(session.lake, session.engine, dag.models);
    if (pending.length) io.stdout.write(`plan pending: ${pending.map((p) => `${p.model} (${p.change})`).join(', ')} — running the published versions; lakeloop plan / lakeloop apply\n`);
    io.stdout.write(`models: ${every.length ? `${every.map((m) => m.name).join(', ')} run after each bronze commit` : 'none run on every bronze commit'}\n`);
    if (cadenced.length) io.stdout.write(`full models: ${cadenced.map((m) => m.name).join(', ')} rerun at most every ${formatSeconds(fullModelEveryMs)} (--full-every)\n`);
  } else io.stdout.write('models: not run (--no-models, or no sql/ models)\n');
  if (scheduler) {
    const next = scheduler.nextRuns();
    io.stdout.write(`jobs: ${Object.entries(next).map(([name, at]) => `${name} (next ${at ?? 'disabled'})`).join(', ')}\n`);
  }
  if (feedRate !== undefined) {
    feed = SampleFeed.start({ url: loopbackUrl(host, collector.port), eventsPerSecond: feedRate, onError: (message) => io.stderr.write(`${clearLine}sample feed: ${escapeControl(message)}\n`) });
    const { duplicateRate, lateRate, malformedRate } = DEFAULT_SAMPLE_RATES;
    io.stdout.write(
      `sample feed: ${formatCount(feedRate)} events/s to ${SAMPLE_SOURCES.join(', ')} (${percent(duplicateRate)} duplicates, ${percent(lateRate)} late, ${percent(malformedRate)} malformed)\n`,
    );
  }

  let ticker: NodeJS.Timeout | undefined;
  if (drawsOnTerminal(io.stderr)) {
    // one terminal row at most: a wrapped line would not be cleared by the next tick
    const columns = 'columns' in io.stderr ? (io.stderr.columns ?? 0) : 0;
    const width = columns > 20 ? columns - 1 : undefined;
    ticker = setInterval(() => io.stderr.write(`${clearLine}${tickerLine(metrics.snapshot(), feed?.counts()).slice(0, width)}`), 1_000);
    ticker.unref();
  }

  const signal = await stopSignal;
  if (ticker) {
    clearInterval(ticker);
    io.stderr.write(clearLine);
  }
  io.stdout.write(`${signal}: committing open batches…\n`);
  await feed?.stop();
  await scheduler?.stop({ graceMs: 10_000 });
  await consoleScheduler?.stop({ graceMs: 10_000 });
  await pulled.stop();
  await web.close();
  await collector.close();
  await collectorEngine.close();
  if (loop) {
    io.stdout.write('running the models over the last batches…\n');
    await loop.stop({ drain: true });
    io.stdout.write(`streaming: ${plural(loop.state.runs, 'run')}\n`);
  }
  await observer.stop();
  // The drain run (and any job) committed after the last refresh: the catalog follows them before exit.
  await catalog?.flush();
  await loopEngine?.close();
  if (feed) io.stdout.write(`sample feed: ${feedLine(feed.counts())}\n`);
  const counters = await collector.counters();
  for (const [source, c] of Object.entries(counters)) {
    io.stdout.write(`${escapeControl(source)}: ${formatCount(c.landed)} landed, ${formatCount(c.quarantined)} quarantined, ${formatCount(c.duplicates)} duplicates, ${c.batches} batches\n`);
  }
  io.stdout.write('stopped\n');
}

/** `--sample-feed`'s events per second, undefined without the option. */
function sampleFeedRate(value: string | boolean | undefined): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_SAMPLE_FEED_RATE;
  return intOption('--sample-feed', value, 1, 1_000_000);
}

/** The feed writes the default project's records: a project without its sources would only get 404s. */
function checkSampleSources(contracts: ReadonlyMap<string, Contract>, projectDir: string): void {
  const missing = SAMPLE_SOURCES.filter((source) => !contracts.has(source));
  if (missing.length === 0) return;
  throw new UsageError(
    `--sample-feed sends the default project's ${SAMPLE_SOURCES.join(', ')}, but ${projectDir} has no contract for ${missing.join(', ')}; ` +
      'run serve --sample-feed in the lakeloop repository (the default project), or copy its contracts/ into this project',
  );
}

/** Where the feed reaches this process's collector: loopback when it listens on every interface. */
function loopbackUrl(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '') return `http://127.0.0.1:${port}`;
  if (host === '::' || host === '[::]') return `http://[::1]:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 1000) / 10}%`;
}

function feedLine(c: SampleFeedCounts): string {
  return `${formatCount(c.sent)} sent (${plural(c.duplicates, 'duplicate')}, ${formatCount(c.late)} late, ${formatCount(c.malformed)} malformed)${c.unsent ? `, ${formatCount(c.unsent)} unsent` : ''}`;
}

/** The live line: landed per source with the total rate, quarantined, the backlog alert, the feed's counts. */
function tickerLine(snapshot: MetricsSnapshot, feed: SampleFeedCounts | undefined): string {
  const parts: string[] = [];
  if (snapshot.backlog.active) parts.push('BACKLOG (see /status)');
  if (snapshot.sources.length === 0) parts.push('waiting for requests');
  else {
    const rate = snapshot.sources.reduce((n, s) => n + s.perSecond.landed, 0);
    const quarantined = snapshot.sources.reduce((n, s) => n + s.quarantined, 0);
    parts.push(`landed: ${snapshot.sources.map((s) => `${s.source} ${formatCount(s.landed)}`).join(' · ')} (${formatCount(Math.round(rate))}/s)`);
    parts.push(`${formatCount(quarantined)} quarantined`);
  }
  const transformed = snapshot.models.filter((m) => m.lastRun);
  if (transformed.length) parts.push(`gold: ${transformed.filter((m) => m.model.startsWith('gold.')).map((m) => `${m.model.slice(5)} ${m.freshnessSeconds === null ? '-' : `${m.freshnessSeconds.toFixed(1)}s`}`).join(' · ')}`);
  if (feed) parts.push(`feed: ${feedLine(feed)}`);
  return parts.join(' | ');
}

function intOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`${name} expects an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** `--full-every`: a duration (`30s`, `5m`), or 0 for every run. */
function fullEveryMs(text: string): number {
  if (text.trim() === '0') return 0;
  if (!isDuration(text)) throw new UsageError(`--full-every expects a duration such as 30s or 5m (0s: every run), got ${JSON.stringify(text)}`);
  return parseDuration(text);
}

function formatSeconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/**
 * The DuckDB instance the collector lands its batches on: `budgets.circuits.collector`, else
 * 1 thread and `engine.memoryLimit`. One thread because a batch is a few thousand records,
 * where a second thread saves little time and costs a whole core: DuckDB 1.5's calling thread
 * spins while it waits for the other's last task (measured: ~30% more CPU per batch, the
 * fast-path check and read twice the CPU; docs/performance.md, "collector").
 */
async function openCollectorCircuit(config: ResolvedConfig): Promise<Engine> {
  const budget = config.budgets.circuits.collector ?? {};
  const memoryLimit = budget.memoryLimit ?? config.engine.memoryLimit;
  return Engine.create({ threads: budget.threads ?? 1, ...(memoryLimit ? { memoryLimit } : {}) });
}
