import { readFileSync } from 'node:fs';
import { Command, Help, Option } from 'commander';
import { NotImplemented } from '../core/index.js';
import type { CommandContext, GlobalOptions } from './command-context.js';
import type { CompactOptions } from './commands/compact.js';
import type { ContractsExportOptions } from './commands/contracts.js';
import type { IngestOptions } from './commands/ingest.js';
import type { InspectOptions } from './commands/inspect.js';
import type { LineageOptions } from './commands/lineage.js';
import type { QueryOptions } from './commands/query.js';
import type { ReconcileCommandOptions } from './commands/reconcile.js';
import type { RunOptions } from './commands/run.js';
import type { ServeOptions } from './commands/serve.js';
import type { StatusOptions } from './commands/status.js';
import type { TestOptions } from './commands/test.js';
import type { VacuumOptions } from './commands/vacuum.js';
import type { CliIo } from './io.js';

/** The package version, for `--version`. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Verbs whose action is built; the others are listed (SPEC §3) but say "not built yet". */
export const BUILT_VERBS: ReadonlySet<string> = new Set(['init', 'inspect', 'query', 'status', 'contracts', 'ingest', 'serve', 'run', 'lineage', 'test', 'compact', 'vacuum', 'reconcile', 'replay']);

/**
 * The `lakeloop` command line: every verb of SPEC §3 with its options. Built verbs load
 * their command module when they run (so `--help` and `--version` never load DuckDB or the
 * AWS SDK); the others fail with `NotImplemented` (exit code 2).
 * `makeContext` turns the parsed global options into what commands run with.
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
    .usage('[dir]')
    .description('scaffold a project (config, one contract, one silver and one gold model, a nightly job)')
    .argument('[dir]', 'where to create the project', '.')
    .action(async (dir: string, _options: unknown, command: Command) => {
      const { initCommand } = await import('./commands/init.js');
      await initCommand(dir, context(command));
    });

  program
    .command('serve')
    .usage('[--port N] [--host H] [--max-body-bytes B] [--max-in-flight-bytes B] [--instance-id ID] [--sample-feed [N]] [--no-models] [--no-jobs]')
    .description('long-running: HTTP collector, micro-batching, streaming transforms, cron jobs, dashboard, /metrics')
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
    .action(async (options: ServeOptions, command: Command) => {
      const { serveCommand } = await import('./commands/serve.js');
      await serveCommand(options, context(command));
    });

  program
    .command('ingest')
    .usage('<source> [--file F | -] [--format ndjson|csv|parquet] [--idempotency-key K] [--batch-bytes N]')
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
    .usage('[models...] [--full-refresh]')
    .description('run the models once (streaming path: incremental where they can be), in DAG order')
    .argument('[models...]', 'only these models (and what they need); default: all')
    .option('--full-refresh', 'rebuild the models from scratch')
    .option('--json', 'print { models: [...] } as one JSON object (last line)')
    .action(async (models: string[], options: RunOptions, command: Command) => {
      const { runCommand } = await import('./commands/run.js');
      await runCommand(models, options, context(command));
    });

  program
    .command('reconcile')
    .usage('[--from D] [--to D] [--dry-run]')
    .description('full recalculation of a window from bronze, diff against current outputs, report, publish')
    .option('--from <D>', 'first day of the window, YYYY-MM-DD (default: today minus --window)')
    .option('--to <D>', "last day of the window (default: each model's last day behind its lateness horizon; today without one)")
    .option('--window <duration>', 'the default window length', '7d')
    .option('--models <m...>', 'only these models and those downstream of them (default: all)')
    .option('--dry-run', 'compute and report the differences, publish nothing')
    .option('--threads <n>', "the reconcile circuit's DuckDB threads (its own instance)", '1')
    .option('--memory-limit <size>', "the reconcile circuit's DuckDB memory limit", '1GB')
    .option('--priority <idle|low|normal>', 'CPU priority: idle (Linux SCHED_IDLE, else nice 19) runs only on cores a running serve leaves free; low is nice 10', 'idle')
    .option('--json', 'print the report as one JSON object')
    .action(async (options: ReconcileCommandOptions, command: Command) => {
      const { reconcileCommand } = await import('./commands/reconcile.js');
      await reconcileCommand('reconcile', options, context(command));
    });

  program
    .command('replay')
    .usage('--from D --to D [--models m...] [--dry-run]')
    .description("rebuild a window (or a new model's history) from bronze; same machinery as reconcile")
    .requiredOption('--from <D>', 'first day of the window')
    .requiredOption('--to <D>', 'last day of the window')
    .option('--models <m...>', 'only these models and those downstream of them (default: all)')
    .option('--dry-run', 'compute and report, publish nothing')
    .option('--threads <n>', "the replay circuit's DuckDB threads (its own instance)", '1')
    .option('--memory-limit <size>', "the replay circuit's DuckDB memory limit", '1GB')
    .option('--priority <idle|low|normal>', 'CPU priority: idle (Linux SCHED_IDLE, else nice 19) runs only on cores a running serve leaves free; low is nice 10', 'idle')
    .option('--json', 'print the report as one JSON object')
    .action(async (options: ReconcileCommandOptions, command: Command) => {
      const { reconcileCommand } = await import('./commands/reconcile.js');
      await reconcileCommand('replay', options, context(command));
    });

  program
    .command('query')
    .usage('"<SQL>" [--format table|csv|json|parquet] [--as-of V] [--output F]')
    .description("SQL over the lake's tables at a consistent snapshot")
    .argument('<sql>', 'one SQL statement; lake tables are named layer.table (e.g. gold.daily_revenue)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json', 'parquet']).default('table'))
    .option('--as-of <V>', 'time travel: a table version (e.g. 12) or an ISO timestamp (e.g. 2024-05-01T12:00:00Z)')
    .option('-o, --output <F>', 'write the result to this file instead of standard output (required for parquet)')
    .action(async (sql: string, options: QueryOptions, command: Command) => {
      const { queryCommand } = await import('./commands/query.js');
      await queryCommand(sql, options, context(command));
    });

  program
    .command('status')
    .usage('[--json]')
    .description('counters, lag, freshness/SLOs, last runs, quality, storage per layer')
    .option('--json', 'print one JSON object as the last line')
    .action(async (options: StatusOptions, command: Command) => {
      const { statusCommand } = await import('./commands/status.js');
      await statusCommand(options, context(command));
    });

  program
    .command('inspect')
    .usage('<table or path> [--as-of V] [--json]')
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
    .usage('export')
    .description('JSON Schema of every source contract, for producers in other languages');
  contracts
    .command('export')
    .usage('[--output DIR] [--json]')
    .description('write the JSON Schema of every source contract (contracts/*.ts) as <source>.schema.json')
    .option('--output <dir>', 'the folder to write into (default: ./contract-schemas)')
    .option('--json', 'print one JSON object { <source>: <schema> } as the last line instead of writing files')
    .action(async (options: ContractsExportOptions, command: Command) => {
      const { contractsExportCommand } = await import('./commands/contracts.js');
      await contractsExportCommand(options, context(command));
    });

  program
    .command('test')
    .usage('[models...]')
    .description('run data tests')
    .argument('[models...]', 'only the tests of these models (default: all)')
    .option('--json', 'print { tests: [...] } as one JSON object (last line)')
    .action(async (models: string[], options: TestOptions, command: Command) => {
      const { testCommand } = await import('./commands/test.js');
      await testCommand(models, options, context(command));
    });

  program
    .command('lineage')
    .usage('[--format text|mermaid|json]')
    .description('the model/source graph')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'mermaid', 'json']).default('text'))
    .action(async (options: LineageOptions, command: Command) => {
      const { lineageCommand } = await import('./commands/lineage.js');
      await lineageCommand(options, context(command));
    });

  program
    .command('compact')
    .usage('[tables...] [--min-files N] [--json]')
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
    .usage('[tables...] [--retention 168h] [--dry-run] [--json]')
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

  // Set after the verbs exist so they keep commander's own layout for their --help.
  program.configureHelp({ formatHelp: (command, helper) => rootHelp(command, helper) });
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
    const built = BUILT_VERBS.has(verb.name()) ? '' : '  (not built yet)';
    out.push(`  ${synopsis}${built}`);
    out.push(...wrap(verb.description(), width - 6).map((line) => `      ${line}`));
  }
  out.push('', 'Options:');
  const options = helper.visibleOptions(program);
  const termWidth = Math.max(...options.map((o) => helper.optionTerm(o).length));
  for (const option of options) out.push(helper.formatItem(helper.optionTerm(option), termWidth, helper.optionDescription(option), helper));
  out.push(
    '',
    'Exit codes: 0 ok, 1 failure, 2 usage error (bad arguments, invalid config).',
    'Run `lakeloop <verb> --help` for a verb\'s arguments and options.',
    '',
  );
  return out.join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}
