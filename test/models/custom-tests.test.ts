import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { loadModels, ModelError, resolveModels } from '../../src/models/index.js';
import { tempDir } from '../cli/cli-harness.js';
import { writeProject } from '../helpers/project.js';

/** Custom SQL tests (`tests/*.sql`): loaded with the models, attached to the model they name; bad files name themselves. */
let engine: Engine;
let cleanup: (() => Promise<void>) | undefined;

beforeAll(async () => {
  engine = await Engine.create({ threads: 1 });
});
afterAll(async () => engine.close());
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

const MODELS = {
  'sql/silver/e.sql': '/*\nkind: full\n*/\nSELECT * FROM bronze.events\n',
  'sql/gold/g.sql': '/*\nkind: full\ntests:\n  - not_null: [n]\n*/\nSELECT count(*) AS n FROM silver.e\n',
};

async function project(files: Record<string, string>): Promise<string> {
  const { dir, remove } = await tempDir('custom-tests');
  cleanup = remove;
  return writeProject(dir, { ...MODELS, ...files });
}

async function loadError(dir: string): Promise<ConfigError> {
  const error = await loadModels(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

async function resolveError(dir: string): Promise<ModelError> {
  const error = await resolveModels(await loadModels(dir), { engine, knownTables: ['bronze.events'] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelError);
  return error as ModelError;
}

describe('custom SQL tests', () => {
  it("are appended to the tests of the model they name, with their severity, path name and the tables they read", async () => {
    const dir = await project({
      'tests/g_matches_e.sql': '/*\nmodel: gold.g\nseverity: warn\ndescription: g counts e\n*/\n-- failing rows\nSELECT n FROM gold.g WHERE n <> (SELECT count(*) FROM silver.e);\n',
      'tests/more/e_ids.sql': '/* model: silver.e */\nSELECT * FROM silver.e WHERE id < 0\n',
    });
    const dag = await resolveModels(await loadModels(dir), { engine, knownTables: ['bronze.events'] });
    const g = dag.byName.get('gold.g');
    expect(g?.header.tests.map((t) => [t.name, t.severity])).toEqual([
      ['not_null(n)', 'error'],
      ['sql(tests/g_matches_e.sql)', 'warn'],
    ]);
    expect(g?.header.tests[1]).toMatchObject({
      kind: 'sql',
      file: join(dir, 'tests', 'g_matches_e.sql'),
      sql: '-- failing rows\nSELECT n FROM gold.g WHERE n <> (SELECT count(*) FROM silver.e)',
      description: 'g counts e',
      inputs: ['gold.g', 'silver.e'],
    });
    expect(dag.byName.get('silver.e')?.header.tests).toEqual([
      expect.objectContaining({ kind: 'sql', name: 'sql(tests/more/e_ids.sql)', severity: 'error', inputs: ['silver.e'] }),
    ]);
    // the model's upstream (and so the DAG and lineage) is unchanged by its tests
    expect(g?.upstream).toEqual(['silver.e']);
  });

  it('a test naming no model, an unknown model, an unknown key or a bad severity is a config error naming the file', async () => {
    const cases: [string, RegExp][] = [
      ['SELECT 1', /header: no header: start the file with a header like \/\* model: silver\.orders \*\//],
      ['/* severity: warn */\nSELECT 1', /model: /],
      ['/* model: gold.nope */\nSELECT 1', /model: no model gold\.nope \(models: gold\.g, silver\.e\)/],
      ['/* model: orders */\nSELECT 1', /model: expected the model it tests as layer\.name/],
      ['/*\nmodel: gold.g\nowner: me\n*/\nSELECT 1', /owner: unknown header key \(known: model, severity, description\)/],
      ['/*\nmodel: gold.g\nseverity: fatal\n*/\nSELECT 1', /severity: /],
      ['/* model: gold.g */\n-- nothing here\n', /sql: no SELECT after the header/],
    ];
    for (const [text, message] of cases) {
      const dir = await project({ 'tests/t.sql': text });
      const error = await loadError(dir);
      expect(error.file).toBe(join(dir, 'tests', 't.sql'));
      expect(error.message).toMatch(message);
      await cleanup?.();
      cleanup = undefined;
    }
  });

  it('a syntax error or an unknown table in a test names the test file and the line', async () => {
    let dir = await project({ 'tests/t.sql': '/* model: gold.g */\nSELECT *\nFROM silver.e\nWHER id = 1\n' });
    let error = await resolveError(dir);
    expect(error.file).toBe(join(dir, 'tests', 't.sql'));
    expect(error.message).toMatch(/custom test sql\(tests\/t\.sql\): SQL syntax error/);
    await cleanup?.();

    dir = await project({ 'tests/t.sql': '/* model: gold.g */\nSELECT *\nFROM silver.nope\n' });
    error = await resolveError(dir);
    expect(error.message).toContain(`${join(dir, 'tests', 't.sql')}:3`);
    expect(error.message).toContain('custom test sql(tests/t.sql): unknown table silver.nope');
    expect(error.model).toBe('gold.g');
  });

  it('models whose tests read another model run after it when the DAG allows', async () => {
    const dir = await project({
      // silver.a sorts (and would run) before silver.z, but its test reads silver.z
      'sql/silver/a.sql': '/*\nkind: full\ntests:\n  - relationships: { column: id, to: silver.z, field: id }\n*/\nSELECT id FROM bronze.events\n',
      'sql/silver/z.sql': '/*\nkind: full\n*/\nSELECT id FROM bronze.events\n',
      'tests/z_reads_a.sql': '/* model: silver.z */\nSELECT * FROM silver.z WHERE id NOT IN (SELECT id FROM silver.a)\n',
    });
    const dag = await resolveModels(await loadModels(dir), { engine, knownTables: ['bronze.events'] });
    const order = dag.models.map((m) => m.name);
    // silver.a's test reads silver.z and silver.z's test reads silver.a: no cycle, one goes first
    expect(order.indexOf('silver.e')).toBeLessThan(order.indexOf('gold.g'));
    expect(new Set(order)).toEqual(new Set(['gold.g', 'silver.a', 'silver.e', 'silver.z']));

    await cleanup?.();
    const only = await project({
      'sql/silver/a.sql': '/*\nkind: full\ntests:\n  - relationships: { column: id, to: silver.z, field: id }\n*/\nSELECT id FROM bronze.events\n',
      'sql/silver/z.sql': '/*\nkind: full\n*/\nSELECT id FROM bronze.events\n',
    });
    const second = await resolveModels(await loadModels(only), { engine, knownTables: ['bronze.events'] });
    const names = second.models.map((m) => m.name);
    expect(names.indexOf('silver.z')).toBeLessThan(names.indexOf('silver.a'));
  });
});
