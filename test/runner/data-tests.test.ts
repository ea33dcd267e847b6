import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../cli/cli-harness.js';
import { eventsContract, writeProject } from '../helpers/project.js';

/**
 * Data tests (SPEC §8), write-audit-publish: a model's result is audited before it is
 * committed; a failing `error` test publishes nothing, a failing `warn` test is reported.
 * One temp project and lake; each test writes the model files it needs.
 */
let dir: string;
let lake: string;
let remove: () => Promise<void>;

interface TestResult {
  model: string;
  test: string;
  severity: string;
  status: string;
  failures: number;
  sample: Record<string, unknown>[];
}

/** silver.e (id is a BIGINT: samples show it as a JSON string): ids 1..3, kinds view, click, view; `maybe` is NULL for id 3; `viewish` is NULL for clicks. */
const E_SQL =
  "SELECT id, kind, CASE WHEN id = 3 THEN NULL ELSE id END AS maybe, CASE WHEN kind = 'view' THEN kind END AS viewish, ts FROM bronze.events";
const KINDS_SQL = "/*\nkind: full\n*/\nSELECT 'view' AS kind\n";

const model = (tests: readonly string[], sql = E_SQL): string => ['/*', 'kind: full', 'tests:', ...tests.map((t) => `  - ${t}`), '*/', sql, ''].join('\n');

async function models(files: Record<string, string>): Promise<void> {
  await rm(join(dir, 'sql'), { recursive: true, force: true });
  await writeProject(dir, files);
}

async function version(table: string): Promise<number | undefined> {
  const run = await cli(['--lake', lake, 'inspect', table, '--json'], dir);
  return run.code === 0 ? run.json<{ version: number }>().version : undefined;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('data-tests'));
  lake = join(dir, 'lake');
  await writeProject(dir, { 'contracts/events.ts': eventsContract() });
  const input = join(dir, 'events.ndjson');
  await writeFile(
    input,
    [
      { id: 1, kind: 'view', ts: '2026-10-01T09:00:00Z' },
      { id: 2, kind: 'click', ts: '2026-10-01T09:01:00Z' },
      { id: 3, kind: 'view', ts: '2026-10-01T09:02:00Z' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  const ingest = await cli(['--lake', lake, 'ingest', 'events', '--file', input], dir);
  expect(ingest.code, ingest.stderr).toBe(0);
});

afterAll(async () => remove());

describe('data tests in lakeloop run', () => {
  it('each test kind passes once and fails once (warn severity: published and reported)', async () => {
    const warn = (t: string): string => `{ ${t}, severity: warn }`;
    await models({
      'sql/silver/kinds.sql': KINDS_SQL,
      'sql/silver/e.sql': model([
        'not_null: [id, kind]',
        warn('not_null: [maybe]'),
        'unique: [id]',
        warn('unique: [kind]'),
        'accepted_values: { column: kind, values: [view, click] }',
        warn('accepted_values: { column: kind, values: [view] }'),
        "relationships: { column: viewish, to: 'silver.kinds', field: kind }",
        warn("relationships: { column: kind, to: 'silver.kinds', field: kind }"),
        'row_count: { min: 1, max: 3 }',
        warn('row_count: { min: 4 }'),
        "expression: 'id > 0'",
        warn("expression: 'id < 3'"),
      ]),
    });
    const kinds = await cli(['--lake', lake, 'run', 'silver.kinds'], dir);
    expect(kinds.code, kinds.stderr).toBe(0);
    const run = await cli(['--lake', lake, 'run', 'silver.e', '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    const [summary] = run.json<{ models: { model: string; version: number; tests: TestResult[] }[] }>().models;
    expect(summary?.model).toBe('silver.e');
    expect(summary?.version).toBe(1);
    const byTest = Object.fromEntries((summary?.tests ?? []).map((t) => [t.test, [t.status, t.failures]]));
    expect(byTest).toEqual({
      'not_null(id, kind)': ['pass', 0],
      'not_null(maybe)': ['warn', 1],
      'unique(id)': ['pass', 0],
      'unique(kind)': ['warn', 1],
      'accepted_values(kind)': ['warn', 1],
      'relationships(viewish -> silver.kinds.kind)': ['pass', 0],
      'relationships(kind -> silver.kinds.kind)': ['warn', 1],
      'row_count(min 1, max 3)': ['pass', 0],
      'row_count(min 4)': ['warn', 1],
      'expression(id > 0)': ['pass', 0],
      'expression(id < 3)': ['warn', 1],
    });
    // two accepted_values tests share a name: the passing one comes first
    expect(summary?.tests.filter((t) => t.test === 'accepted_values(kind)').map((t) => t.status)).toEqual(['pass', 'warn']);
    const samples = Object.fromEntries((summary?.tests ?? []).filter((t) => t.status === 'warn').map((t) => [t.test, t.sample]));
    expect(samples['not_null(maybe)']).toEqual([expect.objectContaining({ id: '3', maybe: null })]);
    expect(samples['unique(kind)']).toEqual([{ kind: 'view', duplicates: 2 }]);
    expect(samples['accepted_values(kind)']).toEqual([expect.objectContaining({ id: '2', kind: 'click' })]);
    expect(samples['relationships(kind -> silver.kinds.kind)']).toEqual([expect.objectContaining({ id: '2', kind: 'click' })]);
    expect(samples['row_count(min 4)']).toEqual([{ row_count: 3 }]);
    expect(samples['expression(id < 3)']).toEqual([expect.objectContaining({ id: '3' })]);
    expect(await version('silver.e')).toBe(1);

    const human = await cli(['--lake', lake, 'run', 'silver.e', '--full-refresh'], dir);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^1 of 1 OK +silver\.e\s+3 rows, 1 file, .*\(version 2\) +[\d.]+ s$/m);
    expect(human.stdout).toMatch(/^\s+warn unique\(kind\): 1 failing row$/m);
    expect(human.stdout).toMatch(/^\s+warn row_count\(min 4\): 1 failing row$/m);
    expect(human.stdout).not.toContain('unique(id)');
  });

  it('a failing error test publishes nothing and names the test, model, file, count and sample', async () => {
    await models({ 'sql/silver/e.sql': model(['unique: [id]']) });
    const ok = await cli(['--lake', lake, 'run', '--full-refresh'], dir);
    expect(ok.code, ok.stderr).toBe(0);
    const before = await version('silver.e');
    expect(before).toBeGreaterThan(0);

    await models({ 'sql/silver/e.sql': model(['unique: [id]', 'not_null: [maybe]', 'row_count: { max: 10 }']) });
    const run = await cli(['--lake', lake, 'run', '--full-refresh'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('not_null(maybe)');
    expect(run.stderr).toContain('silver.e');
    expect(run.stderr).toContain(join(dir, 'sql', 'silver', 'e.sql'));
    expect(run.stderr).toContain('1 failing row');
    expect(run.stderr).toContain('nothing was published');
    expect(run.stderr).toMatch(/"id":"3",.*"maybe":null/);
    expect(run.stderr).not.toContain('unique(id)');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(await version('silver.e')).toBe(before);
  });

  it('a failing error test in a run that adds a column publishes nothing, not even the new column', async () => {
    await models({ 'sql/silver/g.sql': model(['unique: [id]']) });
    expect((await cli(['--lake', lake, 'run'], dir)).code).toBe(0);
    const before = await version('silver.g');
    await models({ 'sql/silver/g.sql': model(['not_null: [extra]'], E_SQL.replace('SELECT id,', 'SELECT id, CASE WHEN id = 2 THEN NULL ELSE 1 END AS extra,')) });
    const run = await cli(['--lake', lake, 'run', '--full-refresh'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('not_null(extra)');
    expect(await version('silver.g')).toBe(before);
  });

  it('tests of a partitioned table read the files written: no internal column in a failing sample', async () => {
    const partitioned = (test: string): string => ['/*', 'kind: full', 'partition_by: kind', 'tests:', `  - ${test}`, '*/', E_SQL, ''].join('\n');
    await models({ 'sql/silver/h.sql': partitioned('unique: [id]') });
    expect((await cli(['--lake', lake, 'run'], dir)).code).toBe(0);
    await models({ 'sql/silver/h.sql': partitioned("expression: 'id < 3'") });
    const run = await cli(['--lake', lake, 'run', '--full-refresh'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/"id":"3"/);
    expect(run.stderr).not.toContain('__lakeloop');
  });

  it('a failing error test on a first run creates no table at all', async () => {
    await models({ 'sql/gold/never.sql': model(["expression: 'kind = ''view'''"], 'SELECT * FROM bronze.events') });
    const run = await cli(['--lake', lake, 'run'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("expression(kind = 'view')");
    expect(run.stderr).toContain('gold.never');
    expect(run.stderr).toContain('"kind":"click"');
    expect(await version('gold.never')).toBeUndefined();
  });

  it('a test over an unknown column names the model and the test', async () => {
    await models({ 'sql/gold/bad.sql': model(['not_null: [nope]'], 'SELECT id FROM bronze.events') });
    const run = await cli(['--lake', lake, 'run'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('gold.bad');
    expect(run.stderr).toContain('not_null(nope)');
    expect(await version('gold.bad')).toBeUndefined();
  });
});

describe('lakeloop test', () => {
  it('runs the tests against the published tables, one line per test; exit 1 on an error failure', async () => {
    await models({ 'sql/silver/e.sql': model(['unique: [id]']) });
    const ok = await cli(['--lake', lake, 'run', '--full-refresh'], dir);
    expect(ok.code, ok.stderr).toBe(0);

    const pass = await cli(['--lake', lake, 'test'], dir);
    expect(pass.code, pass.stderr).toBe(0);
    expect(pass.stdout).toMatch(/^silver\.e {2}unique\(id\) {2}pass$/m);
    expect(pass.stdout).toMatch(/^1 passed, 0 failed, 0 warned$/m);

    // the header changes after publishing: `test` checks what is published now
    await models({ 'sql/silver/e.sql': model(['unique: [id]', '{ unique: [kind], severity: warn }', 'not_null: [maybe]']) });
    const failing = await cli(['--lake', lake, 'test', 'silver.e'], dir);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^silver\.e {2}unique\(kind\) {2}warn {2}1 failing row$/m);
    expect(failing.stdout).toMatch(/^silver\.e {2}not_null\(maybe\) {2}fail {2}1 failing row$/m);
    expect(failing.stderr).toContain('1 data test failed');

    const json = await cli(['--lake', lake, 'test', '--json'], dir);
    expect(json.code).toBe(1);
    const report = json.json<{ tests: TestResult[]; passed: number; failed: number; warned: number }>();
    expect([report.passed, report.failed, report.warned]).toEqual([1, 1, 1]);
    expect(report.tests.map((t) => [t.test, t.status])).toEqual([
      ['unique(id)', 'pass'],
      ['unique(kind)', 'warn'],
      ['not_null(maybe)', 'fail'],
    ]);

    await models({ 'sql/silver/e.sql': model(['{ unique: [kind], severity: warn }']) });
    const warnOnly = await cli(['--lake', lake, 'test'], dir);
    expect(warnOnly.code, warnOnly.stderr).toBe(0);

    const unknown = await cli(['--lake', lake, 'test', 'silver.nope'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown model silver.nope');
  });

  it('a model whose table is not published yet fails the test run', async () => {
    await models({ 'sql/gold/later.sql': model(['not_null: [id]'], 'SELECT id FROM bronze.events') });
    const run = await cli(['--lake', lake, 'test'], dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('gold.later  not published yet');
    expect(run.stderr).toContain('lakeloop run');
  });
});

describe('bad test specs', () => {
  it.each([
    ['an unknown test', 'not_nul: [id]', /tests\[0\]\.not_nul: unknown test/],
    ['a wrong shape', 'unique: 5', /tests\[0\]\.unique: unique:/],
    ['accepted_values without values', 'accepted_values: { column: kind }', /tests\[0\]\.accepted_values\.values/],
    ['a bad severity', '{ unique: [id], severity: fatal }', /tests\[0\]\.severity: unique: severity must be error or warn/],
    ['two tests in one entry', '{ unique: [id], not_null: [id] }', /one test per entry/],
    ['an empty row_count', 'row_count: {}', /row_count: give min, max or both/],
    ['a relationships target without a layer', 'relationships: { column: id, to: kinds, field: id }', /relationships\.to/],
  ])('%s is a config error naming the file and the test', async (_what, spec, message) => {
    await models({ 'sql/silver/e.sql': model([spec]) });
    const run = await cli(['--lake', lake, 'run'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(join(dir, 'sql', 'silver', 'e.sql'));
    expect(run.stderr).toMatch(message);
  });
});
