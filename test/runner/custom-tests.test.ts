import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { parseModelFile, type Model } from '../../src/models/index.js';
import { runDataTests } from '../../src/runner/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { eventsContract, writeProject } from '../helpers/project.js';

/**
 * Custom SQL tests (`tests/*.sql`) and `freshness` tests in `lakeloop run` (write-audit-publish:
 * they audit the result about to be published) and `lakeloop test` (the published table).
 */
let dir: string;
let lake: string;
let remove: () => Promise<void>;

interface Summary {
  model: string;
  version: number;
  tests: { test: string; status: string; failures: number; sample: Record<string, unknown>[] }[];
}

const MINUTE = 60_000;
const at = (msAgo: number): string => new Date(Date.now() - msAgo).toISOString();

/** silver.e: the events, or only the views. */
const E_ALL = '/*\nkind: full\n*/\nSELECT id, kind, ts FROM bronze.events\n';
const E_VIEWS = "/*\nkind: full\n*/\nSELECT id, kind, ts FROM bronze.events WHERE kind = 'view'\n";
const G = '/*\nkind: full\n*/\nSELECT kind, count(*) AS n FROM silver.e GROUP BY kind\n';
const noClicks = (severity: string): string => `/*\nmodel: silver.e\nseverity: ${severity}\n*/\nSELECT id, kind FROM silver.e WHERE kind = 'click'\n`;
const G_COUNTS = '/* model: gold.g */\nSELECT g.kind, g.n FROM gold.g AS g WHERE g.n <> (SELECT count(*) FROM silver.e AS e WHERE e.kind = g.kind)\n';

async function files(project: Record<string, string>): Promise<void> {
  await rm(join(dir, 'sql'), { recursive: true, force: true });
  await rm(join(dir, 'tests'), { recursive: true, force: true });
  await writeProject(dir, project);
}

async function version(table: string): Promise<number | undefined> {
  const run = await cli(['--lake', lake, 'inspect', table, '--json'], dir);
  return run.code === 0 ? run.json<{ version: number }>().version : undefined;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('custom-tests-run'));
  lake = join(dir, 'lake');
  await writeProject(dir, { 'contracts/events.ts': eventsContract() });
  const input = join(dir, 'events.ndjson');
  const events = [
    { id: 1, kind: 'view', ts: at(90 * MINUTE) },
    { id: 2, kind: 'click', ts: at(60 * MINUTE) },
    { id: 3, kind: 'view', ts: at(30 * MINUTE) },
  ];
  await writeFile(input, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  const ingest = await cli(['--lake', lake, 'ingest', 'events', '--file', input], dir);
  expect(ingest.code, ingest.stderr).toBe(0);
});

afterAll(async () => remove());

describe('custom SQL tests in lakeloop run and lakeloop test', () => {
  it('an error test audits the result about to be published: failing rows block the commit, the published table stays', async () => {
    await files({ 'sql/silver/e.sql': E_VIEWS, 'sql/gold/g.sql': G, 'tests/no_clicks.sql': noClicks('error'), 'tests/g_counts.sql': G_COUNTS });
    const first = await cli(['--lake', lake, 'run', '--json'], dir);
    expect(first.code, first.stderr).toBe(0);
    const summaries = first.json<{ models: Summary[] }>().models;
    expect(summaries.map((s) => [s.model, s.tests.map((t) => `${t.test} ${t.status}`)])).toEqual([
      ['silver.e', ['sql(tests/no_clicks.sql) pass']],
      ['gold.g', ['sql(tests/g_counts.sql) pass']],
    ]);
    expect(await version('silver.e')).toBe(1);

    // Now the model lets clicks through: applying it, the test sees the new result (not the published v1) and blocks it.
    await files({ 'sql/silver/e.sql': E_ALL, 'sql/gold/g.sql': G, 'tests/no_clicks.sql': noClicks('error'), 'tests/g_counts.sql': G_COUNTS });
    const blocked = await cli(['--lake', lake, 'apply', '--yes'], dir);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain('data test sql(tests/no_clicks.sql) failed; nothing was published');
    expect(blocked.stderr).toContain('1 failing row');
    expect(blocked.stderr).toMatch(/"id":"2","kind":"click"/);
    expect(blocked.stderr).not.toMatch(/\n\s+at /);
    expect(await version('silver.e')).toBe(1);

    // lakeloop test reads the published tables: v1 has no clicks.
    const test = await cli(['--lake', lake, 'test', '--json'], dir);
    expect(test.code, test.stderr).toBe(0);
    const report = test.json<{ tests: { model: string; test: string; status: string }[] }>();
    expect(report.tests.map((t) => `${t.model} ${t.test} ${t.status}`)).toEqual(['silver.e sql(tests/no_clicks.sql) pass', 'gold.g sql(tests/g_counts.sql) pass']);
  });

  it('a warn test publishes and reports its failing rows; lakeloop test then fails on an error one', async () => {
    await files({ 'sql/silver/e.sql': E_ALL, 'sql/gold/g.sql': G, 'tests/no_clicks.sql': noClicks('warn'), 'tests/g_counts.sql': G_COUNTS });
    const run = await cli(['--lake', lake, 'apply', '--yes', '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    const [e, g] = run.json<{ rebuilt: Summary[] }>().rebuilt;
    expect(e?.tests).toEqual([expect.objectContaining({ test: 'sql(tests/no_clicks.sql)', status: 'warn', failures: 1, sample: [{ id: '2', kind: 'click' }] })]);
    expect(g?.tests).toEqual([expect.objectContaining({ test: 'sql(tests/g_counts.sql)', status: 'pass' })]);
    expect(await version('silver.e')).toBe(2);

    await files({ 'sql/silver/e.sql': E_ALL, 'sql/gold/g.sql': G, 'tests/no_clicks.sql': noClicks('error') });
    const test = await cli(['--lake', lake, 'test'], dir);
    expect(test.code).toBe(1);
    expect(test.stdout).toMatch(/^silver\.e {2}sql\(tests\/no_clicks\.sql\) {2}fail {2}1 failing row$/m);
    expect(test.stdout).toContain('{"id":"2","kind":"click"}');
  });

  it('a test over an unknown column names the model and the test file', async () => {
    await files({ 'sql/silver/e.sql': E_ALL, 'tests/bad.sql': '/* model: silver.e */\nSELECT * FROM silver.e WHERE colour = 1\n' });
    const run = await cli(['--lake', lake, 'run', '--full-refresh'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Model silver.e (${join(dir, 'tests', 'bad.sql')}): data test sql(tests/bad.sql) cannot run`);
    expect(run.stderr).toContain('colour');
  });
});

describe('freshness tests', () => {
  it('pass while the newest value is within max_age of now, fail (with the newest value and its age) once older', async () => {
    const fresh = (maxAge: string): string => `/*\nkind: full\ntests:\n  - freshness: { column: ts, max_age: ${maxAge} }\n*/\nSELECT id, kind, ts FROM bronze.events\n`;
    await files({ 'sql/silver/e.sql': fresh('2h') });
    const ok = await cli(['--lake', lake, 'run', '--full-refresh', '--json'], dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json<{ models: Summary[] }>().models[0]?.tests).toEqual([expect.objectContaining({ test: 'freshness(ts, max_age 2h)', status: 'pass' })]);

    // the newest event is 30 minutes old
    await files({ 'sql/silver/e.sql': fresh('10m') });
    const stale = await cli(['--lake', lake, 'run', '--full-refresh'], dir);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('data test freshness(ts, max_age 10m) failed; nothing was published');
    expect(stale.stderr).toMatch(/"newest":"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.\d]*\+00","age":"00:(29|30|31):[\d.]+","max_age":"10m"/);
  });

  it('a bad max_age is a config error naming the file and the test', async () => {
    await files({ 'sql/silver/e.sql': '/*\nkind: full\ntests:\n  - freshness: { column: ts, max_age: soon }\n*/\nSELECT * FROM bronze.events\n' });
    const run = await cli(['--lake', lake, 'run'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(join(dir, 'sql', 'silver', 'e.sql'));
    expect(run.stderr).toMatch(/tests\[0\]\.freshness\.max_age: freshness: expected a duration such as 30m, 2h, 1d/);
  });

  it('compares with the clock it is given: at exactly max_age it passes, a millisecond later it fails; an empty table fails', async () => {
    const engine = await Engine.create({ threads: 1 });
    try {
      await engine.run("CREATE TABLE t AS SELECT TIMESTAMPTZ '2026-01-10 12:00:00+00' AS ts UNION ALL SELECT TIMESTAMPTZ '2026-01-10 09:00:00+00'");
      await engine.run('CREATE TABLE empty AS SELECT * FROM t WHERE false');
      const parsed = parseModelFile('m.sql', '/*\nkind: full\ntests:\n  - { freshness: { column: ts, max_age: 2h }, severity: warn }\n*/\nSELECT 1');
      const model: Model = { name: 'silver.m', file: 'm.sql', header: parsed.header, sql: parsed.sql, sqlOffset: parsed.sqlOffset, text: '', upstream: [] };
      const newest = Date.parse('2026-01-10T12:00:00Z');
      const status = async (relation: string, nowMs: number): Promise<[string, number]> => {
        const [result] = await runDataTests(engine, model, relation, { nowMs });
        return [result?.status ?? '', result?.failures ?? -1];
      };
      expect(await status('t', newest + 2 * 3_600_000)).toEqual(['pass', 0]);
      expect(await status('t', newest + 2 * 3_600_000 + 1)).toEqual(['warn', 1]);
      expect(await status('empty', newest)).toEqual(['warn', 1]);
    } finally {
      await engine.close();
    }
  });
});
