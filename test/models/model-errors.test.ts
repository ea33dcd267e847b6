import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../cli/cli-harness.js';
import { writeProject } from '../helpers/project.js';

/** Bad model files: each error names the file (and the line where there is one) and nothing runs. */
let cleanup: (() => Promise<void>) | undefined;

afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function project(files: Record<string, string>): Promise<string> {
  const { dir, remove } = await tempDir('models-bad');
  cleanup = remove;
  return writeProject(dir, files);
}

async function runIn(dir: string): Promise<{ code: number; stderr: string }> {
  return cli(['--lake', join(dir, 'lake'), 'run'], dir);
}

describe('bad model files', () => {
  it('a SQL syntax error names the file and the line, and exits 2 (an invalid model file)', async () => {
    const dir = await project({ 'sql/silver/a.sql': '/*\nkind: full\n*/\nSELECT 1 AS x,\n  2 AS y\nFORM nowhere\n' });
    const run = await runIn(dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${join(dir, 'sql', 'silver', 'a.sql')}:6`);
    expect(run.stderr).toMatch(/syntax error/i);
  });

  it('an unknown table names the file and the line', async () => {
    const dir = await project({ 'sql/gold/b.sql': '/*\nkind: full\nowner: me\n*/\nSELECT *\nFROM\n  bronze.nope\n' });
    const run = await runIn(dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${join(dir, 'sql', 'gold', 'b.sql')}:7`);
    expect(run.stderr).toContain('unknown table bronze.nope');
  });

  it('a cycle names the models and their files', async () => {
    const dir = await project({
      'sql/silver/a.sql': '/*\nkind: full\n*/\nSELECT * FROM silver.b\n',
      'sql/silver/b.sql': '/*\nkind: full\n*/\nSELECT * FROM silver.a\n',
    });
    const run = await runIn(dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('cycle: silver.a -> silver.b -> silver.a');
    expect(run.stderr).toContain(join(dir, 'sql', 'silver', 'a.sql'));
    expect(run.stderr).toContain(join(dir, 'sql', 'silver', 'b.sql'));
  });

  it('an unknown header key is a config error naming the file and the key', async () => {
    const dir = await project({ 'sql/silver/a.sql': '/*\nkind: full\npartiton_by: day\n*/\nSELECT 1 AS x\n' });
    const run = await runIn(dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(join(dir, 'sql', 'silver', 'a.sql'));
    expect(run.stderr).toContain('partiton_by: unknown header key (did you mean partition_by?)');
  });

  it('an unknown table that is a typo gets a did-you-mean', async () => {
    const dir = await project({
      'sql/silver/orders.sql': '/*\nkind: full\n*/\nSELECT 1 AS x\n',
      'sql/gold/b.sql': '/*\nkind: full\n*/\nSELECT * FROM silver.orderz\n',
    });
    const run = await runIn(dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown table silver.orderz');
    expect(run.stderr).toContain('Did you mean silver.orders?');
  });

  it('a header that is not YAML gives the parser\'s whole reason at the line of the file where the mistake is', async () => {
    const dir = await project({ 'sql/silver/a.sql': '/*\nkind: full\npartition_by: [day\nowner: me\n*/\nSELECT 1 AS x\n' });
    const run = await runIn(dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('line 3: the header is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]\n');
    expect(run.stderr).not.toMatch(/YAML: .*:\n/);
  });

  it('a bad YAML value names its own line', async () => {
    const dir = await project({ 'sql/silver/a.sql': '\n/* kind: full\nowner: a: b\n*/\nSELECT 1 AS x\n' });
    const run = await runIn(dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/ line 3: the header is not valid YAML: \w[^\n]*[^:\n]\n/);
  });

  it('a header value of the wrong type is a config error naming the file and the key', async () => {
    const dir = await project({ 'sql/silver/a.sql': '/*\nkind: full\nowner: [a, b]\n*/\nSELECT 1 AS x\n' });
    const run = await runIn(dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(join(dir, 'sql', 'silver', 'a.sql'));
    expect(run.stderr).toMatch(/owner: .*string/i);
  });

  it('an incremental kind without its partition column or key says which header key is missing', async () => {
    const dir = await project({ 'sql/silver/a.sql': '/*\nkind: incremental_by_key\n*/\nSELECT 1 AS x\n' });
    const run = await runIn(dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('partition_by: kind incremental_by_key needs exactly one partition_by column');
    expect(run.stderr).toContain('unique_key: kind incremental_by_key needs unique_key');
    expect(run.stderr).toContain('a.sql');
  });

  it('a model that does not return its partition column fails naming the column, and nothing is published', async () => {
    const dir = await project({ 'sql/silver/a.sql': '/*\nkind: incremental_by_partition\npartition_by: d\n*/\nSELECT 1 AS x\n' });
    const run = await runIn(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('does not return its partition column d');
    expect(run.stderr).toContain('a.sql');
  });
});
