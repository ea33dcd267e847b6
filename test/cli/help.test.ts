import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, SPEC_VERBS, tempDir } from './cli-harness.js';

const ROOT = join(import.meta.dirname, '..', '..');

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-help'));
});
afterAll(async () => remove());

describe('lakeloop --help', () => {
  it('the real bin lists every SPEC §3 verb with its options and exits 0', () => {
    const child = spawnSync(process.execPath, [join(ROOT, 'bin', 'lakeloop.js'), '--help'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(child.status).toBe(0);
    for (const verb of SPEC_VERBS) expect(child.stdout).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
    expect(child.stdout).toContain('ingest <source> [input] [--file F] [--format ndjson|json|csv|parquet] [--idempotency-key K]');
    expect(child.stdout).toContain('replay --from D --to D [--models m...] [--exclude selector...] [--dry-run]');
    expect(child.stdout).toContain('query <sql> [--format table|csv|json|parquet|arrow] [--as-of V]');
    expect(child.stdout).toContain('inspect <table> [--as-of V] [--json]');
    expect(child.stdout).toContain('lineage [models...] [--exclude selector...] [--format text|mermaid|json]');
    expect(child.stdout).toContain('--config <file>');
    expect(child.stdout).toContain('--lake <root>');
    expect(child.stderr).toBe('');
  });

  it('lists every verb with its usage, none marked as not built', async () => {
    const run = await cli(['--help'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('not built yet');
    expect(run.stdout.replace(/\n {6}\[/g, ' [')).toMatch(/^ {2}reconcile \[--from D\] \[--to D\] \[--window duration\] \[--models m\.\.\.\] \[--exclude selector\.\.\.\] \[--dry-run\]/m);
    expect(run.stdout).toMatch(/^ {2}query <sql> .*\[--output F\]$/m);
    expect(run.stdout).toMatch(/^ {2}test \[models\.\.\.\] \[--exclude selector\.\.\.\] \[--json\]$/m);
  });

  it.each(['init', 'serve', 'ingest', 'run', 'reconcile', 'replay', 'query', 'status', 'inspect', 'contracts', 'test', 'lineage', 'compact', 'vacuum'])(
    '`%s --help` prints the verb usage and exits 0',
    async (verb) => {
      const run = await cli([verb, '--help'], dir);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: lakeloop ${verb}`);
      expect(run.stdout).toContain('--config <file>');
    },
  );

  it('`contracts export --help` works too', async () => {
    const run = await cli(['contracts', 'export', '--help'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: lakeloop contracts export');
  });

  it('--version prints the package version', async () => {
    const run = await cli(['--version'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('usage errors', () => {
  it('reconcile in a project without models says what to add and exits 2', async () => {
    const run = await cli(['reconcile'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('error: No models to recompute');
    expect(run.stderr).toContain('hint: Add sql/<layer>/<name>.sql files.');
  });

  it('an unknown verb exits 2 and suggests the near one', async () => {
    const run = await cli(['inspct', 'gold.x'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'inspct'");
    expect(run.stderr).toContain('inspect');
  });

  it('a missing argument, a bad option value or an unknown option exits 2 with a message', async () => {
    const missing = await cli(['inspect'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'table'");
    const badFormat = await cli(['query', 'select 1', '--format', 'xml'], dir);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain("'xml' is invalid");
    const unknown = await cli(['status', '--jsn'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--jsn'");
    const replay = await cli(['replay', '--from', '2024-01-01'], dir);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toContain("required option '--to <D>' not specified");
  });

  it('no verb at all prints the help on stderr and exits 2', async () => {
    const run = await cli([], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Verbs:');
  });

  it('a bad --as-of and parquet without --output are usage errors', async () => {
    const asOf = await cli(['query', 'select 1', '--as-of', 'yesterday'], dir);
    expect(asOf.code).toBe(2);
    expect(asOf.stderr).toContain('error: --as-of expects a table version or an ISO timestamp, got "yesterday"');
    const parquet = await cli(['query', 'select 1', '--format', 'parquet'], dir);
    expect(parquet.code).toBe(2);
    expect(parquet.stderr).toContain('--format parquet needs --output F');
  });
});

describe('help is generated from the options that exist', () => {
  it('every verb\'s usage line names every one of its options', async () => {
    const { buildProgram } = await import('../../src/cli/program.js');
    const { allVerbs } = await import('../../src/cli/help-text.js');
    const { BufferSink } = await import('../../src/cli/io.js');
    const program = buildProgram({ stdout: new BufferSink(), stderr: new BufferSink(), cwd: dir, env: {} }, () => {
      throw new Error('not run');
    });
    for (const verb of allVerbs(program)) {
      for (const option of verb.options) {
        if (option.long === '--help') continue;
        expect(verb.usage(), `${verb.name()} ${option.long}`).toContain(option.long ?? option.flags);
      }
      for (const argument of verb.registeredArguments) expect(verb.usage()).toContain(argument.name());
    }
  });

  it('defaults and choices print unquoted', async () => {
    const serve = await cli(['serve', '--help'], dir);
    expect(serve.stdout).toMatch(/TCP port of the collector .*\(default:\s+8080\)/s);
    expect(serve.stdout).toContain('Usage: lakeloop serve [--port N]');
    expect(serve.stdout).toContain('[--full-every duration]');
    for (const verb of ['serve', 'reconcile', 'replay', 'query', 'ingest', 'vacuum', 'compact', 'control', 'lineage', 'init']) {
      const run = await cli([verb, '--help'], dir);
      expect(run.stdout, verb).not.toMatch(/(default|choices): "/);
    }
  });

  it('the top-level help promises nothing status does not print', async () => {
    const run = await cli(['--help'], dir);
    expect(run.stdout).not.toMatch(/SLO|freshness\/|not built yet/);
  });
});
