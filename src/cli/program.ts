import { readFileSync } from 'node:fs';
import { Argument, Command, Help, Option } from 'commander';
import type { CommandContext, GlobalOptions } from './command-context.js';
import type { ApplyOptions } from './commands/apply.js';
import type { CompactOptions } from './commands/compact.js';
import type { ControlOptions } from './commands/control.js';
import type { ContractsExportOptions } from './commands/contracts.js';
import type { IngestOptions } from './commands/ingest.js';
import type { InitCommandOptions } from './commands/init.js';
import type { InspectOptions } from './commands/inspect.js';
import type { LineageOptions } from './commands/lineage.js';
import type { PlanOptions } from './commands/plan.js';
import type { QueryOptions } from './commands/query.js';
import type { ReconcileCommandOptions } from './commands/reconcile.js';
import type { RunOptions } from './commands/run.js';
import type { ServeOptions } from './commands/serve.js';
import type { StatusOptions } from './commands/status.js';
import type { TestOptions } from './commands/test.js';
import type { VacuumOptions } from './commands/vacuum.js';
import { generateHelp } from './help-text.js';
import type { CliIo } from './io.js';

/** The package version, for `--version`. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The selector grammar (src/models/model-selector.ts), for the verbs' help. */
const SELECTORS_HELP = 'Selectors: name, layer.*, name+, +name, owner:NAME, domain:NAME';

/** `--exclude`'s help, shared by the verbs that take model selectors. */
const EXCLUDE_HELP = 'models to leave out (same selectors as the models; repeatable)';

/**
 * The `lakeloop` command line: every verb with its options. A verb loads its command
 * module when it runs (so `--help` and `--version` never load DuckDB or the AWS SDK).
 * Usage lines and defaults in `--help` are generated from the declared options
 * (`generateHelp`). `makeContext` turns the parsed global options into what commands run with.
 */
export function buildProgram(io: CliIo, makeContext: (globals: GlobalOptions) => CommandContext): Command {
  const program = new Command('lakeloop');
  const helpWidth = io.stdout.isTTY ? Math.min(io.stdout.columns ?? 100, 120) : 100;
  program
    .description(
      'Hybrid lakehouse engine: streaming micro-batches to Delta/Parquet bronze, incremental DuckDB SQL models, scheduled reconciliation.',
    )
    .usage('[options] <verb> [args]')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .option('--config <file>', 'the project config (default: ./lakeloop.config.ts, else built-in defaults)')
    .option('--lake <root>', 'lake root, overriding the config: a directory or s3://bucket/prefix')
    .option('-v, --verbose', 'say more: where the config came from, what was bound, error causes')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      getOutHelpWidth: () => helpWidth,
      getErrHelpWidth: () => helpWidth,
    })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError('(run `lakeloop --help` or `lakeloop <verb> --help` for usage)')
    .showSuggestionAfterError(true);

  const context = (command: Command): CommandContext => makeContext(command.optsWithGlobals<GlobalOptions>());
  program
    .command('init')
    .description('scaffold a project (config, one contract, one silver and one gold model, a nightly job)')
    .argument('[dir]', 'where to create the project', '.')
    .option('--from <spec>', "the project's lakeloop dependency, as package.json writes it (default: $LAKELOOP_PACKAGE_SPEC, else file:<this lakeloop>)")
    .action(async (dir: string, options: InitCommandOptions, command: Command) => {
      const { initCommand } = await import('./commands/init.js');
      await initCommand(dir, options, context(command));
    });

  program
    .command('serve')
    .description('long-running: HTTP collector, micro-batching, streaming transforms, cron jobs, the web console (GET /), /status, /metrics')
    .option('--port <N>', 'TCP port of the collector (0: any free port, printed)', '8080')
    .option('--host <H>', 'address to listen on', '127.0.0.1')
    .option('--max-body-bytes <B>', 'larger request bodies get 413 (default 16 MiB)')
    .option('--max-in-flight-bytes <B>', 'request bytes held server-wide until answered; past it requests get 429 before their body is read (default 256 MiB, at least 4 x --max-body-bytes)')
    .option('--instance-id <ID>', "names this collector's batch stream in the txn log (default: <hostname>-<port>)")
    .option('--sample-feed [events-per-second]', "post the default project's sample orders, payments and page views to this collector (default 200/s)")
    .option('--no-models', 'land only: do not run the models after bronze commits')
    .option('--no-jobs', 'do not run the scheduled jobs of jobs/')
    .option('--poll-ms <ms>', 'how often the streaming loop checks bronze for new commits', '250')
    .option('--full-every <duration>', 'how often `full` models rerun on the streaming path (0s: on every commit, like the others)', '30s')
    .option('--control-token <T>', "the bearer token the console's controls (pause, step, resume, reconcile) require (default: $LAKELOOP_CONTROL_TOKEN; none: controls disabled)")
    .option('--alert-interval <seconds>', 'how often the alerts (freshness SLOs, failed runs and jobs, quarantine spikes) are evaluated', '30')
    .option('--log-format <format>', 'human (default) or json: one JSON object per line on stdout and stderr')
    .action(async (options: ServeOptions, command: Command) => {
      const { serveCommand } = await import('./commands/serve.js');
      await serveCommand(options, context(command));
    });

  program
    .command('control')
    .description("drive a running serve: pause model runs (landing goes on), step one cycle and print its decision, resume; start a reconcile in its separate circuit")
    .argument('<action>', 'pause, step, resume or reconcile')
    .option('--url <U>', 'the serve to control', 'http://127.0.0.1:8080')
    .option('--token <T>', "serve's control token (default: $LAKELOOP_CONTROL_TOKEN)")
    .option('--from <D>', 'reconcile: first day of the window (YYYY-MM-DD; default: every partition that is not exact)')
    .option('--to <D>', 'reconcile: last day of the window (YYYY-MM-DD)')
    .option('--models <m...>', 'reconcile: only these models (names) and those downstream of them')
    .option('--dry-run', 'reconcile: write the report, publish nothing')
    .option('--wait', 'reconcile: wait for it to end and print its report summary (exit 1 if it failed or held partitions, 3 if serve skipped it: over the scan budget)')
    .option('--json', "print serve's answer as one JSON object (last line)")
    .action(async (action: string, options: ControlOptions, command: Command) => {
      const { controlCommand } = await import('./commands/control.js');
      await controlCommand(action, options, context(command));
    });

  program
    .command('ingest')
    .description('land records as bronze micro-batches (same path as the collector)')
    .argument('<source>', 'the source (contract) the records belong to')
    .argument('[input]', "'-' reads the records from standard input")
    .option('--file <F>', 'read the records from this file')
    .addOption(new Option('--format <format>', 'input format (default: from the file name)').choices(['ndjson', 'json', 'csv', 'parquet']))
    .option('--idempotency-key <K>', 'a key that makes a repeated delivery a no-op (default: the file\'s identity, or the hash of stdin)')
    .option('--batch-bytes <size>', "cut the input into batches of about this size, e.g. 64MiB (default: the contract's fileBatch, else 256MiB; a key with batches landed keeps its earlier size)")
    .option('--json', 'print the summary as one JSON object (last line)')
    .action(async (source: string, input: string | undefined, options: IngestOptions, command: Command) => {
      const { ingestCommand } = await import('./commands/ingest.js');
      await ingestCommand(source, input, options, context(command));
    });

  program
    .command('run')
    .description('run the models once (streaming path: incremental where they can be), in DAG order')
    .argument('[models...]', `only the selected models, their upstream read as published (+name selects it too); default: all. ${SELECTORS_HELP}`)
    .option('--exclude <selector...>', EXCLUDE_HELP)
    .option('--full-refresh', 'rebuild the selected models from scratch')
    .option('--json', 'print { models: [...] } as one JSON object (last line)')
    .action(async (models: string[], options: RunOptions, command: Command) => {
      const { runCommand } = await import('./commands/run.js');
      await runCommand(models, options, context(command));
    });

  program
    .command('plan')
    .description("what differs between the model files and the lake (from the tables' logs): breaking, non-breaking, metadata, added, removed; schema diff, downstream rebuilds, partitions, estimate")
    .argument('[models...]', `only the changes of the selected models (and what they force downstream); default: all. ${SELECTORS_HELP}`)
    .option('--exclude <selector...>', EXCLUDE_HELP)
    .option('--json', 'print { models: [...], rebuild, record, estimateSeconds } as one JSON object (last line)')
    .action(async (models: string[], options: PlanOptions, command: Command) => {
      const { planCommand } = await import('./commands/plan.js');
      await planCommand(models, options, context(command));
    });

  program
    .command('apply')
    .description('rebuild the changed models (and what a breaking change forces downstream) from their upstream tables as published, test and publish them')
    .argument('[models...]', `only the changes of the selected models; default: all. ${SELECTORS_HELP}`)
    .option('--exclude <selector...>', EXCLUDE_HELP)
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--dry-run', 'print the plan, change nothing')
    .option('--json', 'print { plan, applied, rebuilt, recorded } as one JSON object (last line)')
    .action(async (models: string[], options: ApplyOptions, command: Command) => {
      const { applyCommand } = await import('./commands/apply.js');
      await applyCommand(models, options, context(command));
    });

  program
    .command('reconcile')
    .description('full recalculation of a window from bronze, diff against current outputs, report, publish')
    .option('--from <D>', 'first day of the window, YYYY-MM-DD (default: today minus --window)')
    .option('--to <D>', "last day of the window (default: each model's last day behind its lateness horizon; today without one)")
    .option('--window <duration>', 'the default window length', '7d')
    .option('--models <m...>', `only the selected models and those downstream of them (default: all). ${SELECTORS_HELP}`)
    .option('--exclude <selector...>', 'models to leave out, after those downstream are added (same selectors)')
    .option('--dry-run', 'compute and report the differences, publish nothing')
    .option('--threads <n>', "the reconcile circuit's DuckDB threads (its own instance; default budgets.circuits.reconcile.threads, else 1)")
    .option('--memory-limit <size>', "the reconcile circuit's DuckDB memory limit (default budgets.circuits.reconcile.memoryLimit, else 1GB)")
    .option('--chunk-days <n>', 'run a --from/--to window in chunks of n days, each published and resumable (default 60; 0: one shot)')
    .option('--priority <idle|low|normal>', 'CPU priority: idle (Linux SCHED_IDLE, else nice 19) runs only on cores a running serve leaves free; low is nice 10', 'idle')
    .option('--json', 'print the report as one JSON object')
    .action(async (options: ReconcileCommandOptions, command: Command) => {
      const { reconcileCommand } = await import('./commands/reconcile.js');
      await reconcileCommand('reconcile', options, context(command));
    });

  program
    .command('replay')
    .description("rebuild a window (or a new model's history) from bronze; same machinery as reconcile")
    .requiredOption('--from <D>', 'first day of the window')
    .requiredOption('--to <D>', 'last day of the window')
    .option('--models <m...>', `only the selected models and those downstream of them (default: all). ${SELECTORS_HELP}`)
    .option('--exclude <selector...>', 'models to leave out, after those downstream are added (same selectors)')
    .option('--dry-run', 'compute and report, publish nothing')
    .option('--threads <n>', "the replay circuit's DuckDB threads (its own instance; default budgets.circuits.reconcile.threads, else 1)")
    .option('--memory-limit <size>', "the replay circuit's DuckDB memory limit (default budgets.circuits.reconcile.memoryLimit, else 1GB)")
    .option('--chunk-days <n>', 'run the window in chunks of n days, each published and resumable (default 60; 0: one shot)')
    .option('--priority <idle|low|normal>', 'CPU priority: idle (Linux SCHED_IDLE, else nice 19) runs only on cores a running serve leaves free; low is nice 10', 'idle')
    .option('--json', 'print the report as one JSON object')
    .action(async (options: ReconcileCommandOptions, command: Command) => {
      const { reconcileCommand } = await import('./commands/reconcile.js');
      await reconcileCommand('replay', options, context(command));
    });

  program
    .command('query')
    .description("SQL over the lake's tables at a consistent snapshot")
    .argument('<sql>', 'one SQL statement; lake tables are named layer.table (e.g. gold.daily_revenue)')
    .addOption(new Option('--format <format>', 'output format (arrow: an Arrow IPC stream, types kept)').choices(['table', 'csv', 'json', 'parquet', 'arrow']).default('table'))
    .option('--as-of <V>', 'time travel: a table version (e.g. 12) or an ISO timestamp (e.g. 2024-05-01T12:00:00Z)')
    .option('-o, --output <F>', 'write the result to this file instead of standard output (required for parquet)')
    .action(async (sql: string, options: QueryOptions, command: Command) => {
      const { queryCommand } = await import('./commands/query.js');
      await queryCommand(sql, options, context(command));
    });

  program
    .command('status')
    .description('tables per layer (version, files, rows, bytes, last commit), ingestion counters per source, late rows waiting for reconcile, the last reconcile or replay, partition status (--partitions), storage per layer, domains, the jobs')
    .option('--json', 'print one JSON object as the last line')
    .option('--partitions [table]', "each model table's partitions: exact, provisional, pending_late, stale_code, held or missing")
    .action(async (options: StatusOptions, command: Command) => {
      const { statusCommand } = await import('./commands/status.js');
      await statusCommand(options, context(command));
    });

  program
    .command('inspect')
    .description("a Delta table's version, schema, partitions, live files, rows, bytes, history")
    .argument('<table>', 'layer.table in the lake, or the path of a Delta table folder (or s3://bucket/path)')
    .option('--as-of <V>', 'time travel: a table version (e.g. 3) or an ISO timestamp (e.g. 2024-05-01T12:00:00Z)')
    .option('--json', 'print one JSON object as the last line')
    .action(async (target: string, options: InspectOptions, command: Command) => {
      const { inspectCommand } = await import('./commands/inspect.js');
      await inspectCommand(target, options, context(command));
    });

  const contracts = program
    .command('contracts')
    .description('JSON Schema of every source contract, for producers in other languages');
  contracts
    .command('export')
    .description('write the JSON Schema of every source contract (contracts/*.ts) as <source>.schema.json')
    .option('--output <dir>', 'the folder to write into (default: ./contract-schemas)')
    .option('--json', 'print one JSON object { <source>: <schema> } as the last line instead of writing files')
    .action(async (options: ContractsExportOptions, command: Command) => {
      const { contractsExportCommand } = await import('./commands/contracts.js');
      await contractsExportCommand(options, context(command));
    });

  program
    .command('test')
    .description('run data tests')
    .argument('[models...]', `only the tests of the selected models (default: all). ${SELECTORS_HELP}`)
    .option('--exclude <selector...>', EXCLUDE_HELP)
    .option('--json', 'print { tests: [...] } as one JSON object (last line)')
    .action(async (models: string[], options: TestOptions, command: Command) => {
      const { testCommand } = await import('./commands/test.js');
      await testCommand(models, options, context(command));
    });

  program
    .command('lineage')
    .description('the model/source graph, grouped by domain, cross-domain edges marked')
    .argument('[models...]', `only the edges into the selected models (default: all). ${SELECTORS_HELP}`)
    .option('--exclude <selector...>', EXCLUDE_HELP)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'mermaid', 'json']).default('text'))
    .action(async (models: string[], options: LineageOptions, command: Command) => {
      const { lineageCommand } = await import('./commands/lineage.js');
      await lineageCommand(models, options, context(command));
    });

  program
    .command('compact')
    .description('merge small files: per partition with N or more files under 128 MiB, one OPTIMIZE commit per table (same rows, no new data downstream)')
    .argument('[tables...]', 'layer.table names (default: every table)')
    .option('--min-files <N>', 'compact a partition when it has at least N small files', '5')
    .option('--json', 'print { tables: [...], failures: [...] } as one JSON object (last line)')
    .action(async (tables: string[], options: CompactOptions, command: Command) => {
      const { compactCommand } = await import('./commands/compact.js');
      await compactCommand(tables, options, context(command));
    });

  program
    .command('vacuum')
    .description('delete unreferenced files past retention: files removed (or never committed) longer ago than --retention; never the log or live files')
    .argument('[tables...]', 'layer.table names (default: every table)')
    .option('--retention <duration>', 'keep files that left the table more recently than this (e.g. 168h, 30d; a bare number is hours)', '168h')
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--force', 'allow a retention below 1h (only when no writer or reader is running)')
    .option('--json', 'print { tables: [...], failures: [...] } as one JSON object (last line)')
    .action(async (tables: string[], options: VacuumOptions, command: Command) => {
      const { vacuumCommand } = await import('./commands/vacuum.js');
      await vacuumCommand(tables, options, context(command));
    });

  program
    .command('completion')
    .description('print a shell completion script (every verb, its options, model and table names): see README, The CLI, for installing it')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .action(async (shell: string, _options: unknown, command: Command) => {
      const { completionCommand } = await import('./commands/completion.js');
      await completionCommand(shell, program, context(command));
    });

  // The completion scripts' own verb: the names they complete, one a line (never in --help).
  program
    .command('__complete', { hidden: true })
    .argument('<kind>', 'models or tables')
    .action(async (kind: string, _options: unknown, command: Command) => {
      const { completeCommand } = await import('./commands/completion.js');
      await completeCommand(kind, context(command));
    });

  // After every verb is declared: usage lines and defaults from the options that exist.
  generateHelp(program);
  // Set after the verbs exist so they keep commander's own layout for their --help.
  program.configureHelp({ ...program.configureHelp(), formatHelp: (command, helper) => rootHelp(command, helper) });
  return program;
}

/** The top-level help: every verb as its SPEC §3 synopsis, the description under it. */
function rootHelp(program: Command, helper: Help): string {
  const width = helper.helpWidth ?? 100;
  const out: string[] = [`Usage: lakeloop ${program.usage()}`, '', ...wrap(program.description(), width), '', 'Verbs:'];
  for (const verb of helper.visibleCommands(program)) {
    if (verb.name() === 'help') continue;
    const usage = verb.usage();
    const synopsis = usage && usage !== '[options]' ? `${verb.name()} ${usage}` : verb.name();
    const [first = '', ...rest] = wrap(synopsis, width - 2, termsOf);
    out.push(`  ${first}`, ...rest.map((line) => `      ${line}`));
    out.push(...wrap(verb.description(), width - 6).map((line) => `      ${line}`));
  }
  out.push('', 'Options:');
  const options = helper.visibleOptions(program);
  const termWidth = Math.max(...options.map((o) => helper.optionTerm(o).length));
  for (const option of options) out.push(helper.formatItem(helper.optionTerm(option), termWidth, helper.optionDescription(option), helper));
  out.push(
    '',
    'Exit codes: 0 ok; 1 a failure (an unknown table, a failing SQL statement or model run, no lake at the root);',
    '2 a usage error (bad arguments, an invalid config, contract, model or job file);',
    '3 skipped: refused by a policy before it started, nothing failed (control reconcile --wait over the scan budget).',
    'Run `lakeloop <verb> --help` for a verb\'s arguments and options.',
    '',
  );
  return out.join('\n');
}

function wrap(text: string, width: number, split: (text: string) => string[] = (t) => t.split(/\s+/)): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of split(text)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** A synopsis split at the spaces between its terms, never inside a `[--opt value]`. */
function termsOf(synopsis: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let term = '';
  for (const char of synopsis) {
    if (char === ' ' && depth === 0) {
      if (term !== '') terms.push(term);
      term = '';
      continue;
    }
    if (char === '[') depth++;
    if (char === ']') depth--;
    term += char;
  }
  if (term !== '') terms.push(term);
  return terms;
}
