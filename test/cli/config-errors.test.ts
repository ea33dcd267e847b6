import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, tempDir } from './cli-harness.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempDir('cli-config'));
});
afterEach(async () => remove());

describe('config errors in the CLI', () => {
  it('an invalid field prints the file and the field, no stack, and exits 2', async () => {
    const file = join(dir, 'lakeloop.config.ts');
    await writeFile(file, `export default { engine: { threads: 'two' } };\n`);
    const run = await cli(['status'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`error: Invalid config ${file}:`);
    expect(run.stderr).toContain('engine.threads: expected a positive integer, got "two"');
    expect(run.stderr).toContain(`hint: Fix ${file}`);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout).toBe('');
  });

  it('a config that does not compile is a config error with the reason', async () => {
    const file = join(dir, 'custom.config.ts');
    await writeFile(file, `export default {{ lake: `);
    const run = await cli(['--config', 'custom.config.ts', 'status'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(file);
    expect(run.stderr).toContain('failed to load');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it('a missing --config file is named', async () => {
    const run = await cli(['status', '--config', 'nope.ts'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(join(dir, 'nope.ts'));
    expect(run.stderr).toContain('no such file');
  });

  it('--lake overrides the config, relative to the cwd; a bad --lake is named', async () => {
    await writeFile(join(dir, 'lakeloop.config.ts'), `export default { lake: { root: './elsewhere' } };\n`);
    await mkdir(join(dir, 'mylake'));
    const run = await cli(['status', '--lake', 'mylake', '--json'], dir);
    expect(run.code).toBe(0);
    expect(run.json<{ root: string }>().root).toBe(join(dir, 'mylake'));
    const bad = await cli(['status', '--lake', 'gs://bucket/x'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--lake');
    expect(bad.stderr).toContain('expected a local directory or s3://bucket[/prefix]');
  });

  it('without a config file the defaults apply, and --verbose says so', async () => {
    // status needs the lake to exist (a missing root is an error); the default one is ./lake.
    await mkdir(join(dir, 'lake'));
    const run = await cli(['status', '--json', '--verbose'], dir);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`no lakeloop.config.ts in ${dir}: using the defaults`);
    expect(run.json()).toMatchObject({ root: join(dir, 'lake'), sources: [], tables: [], layers: [], jobs: [], late: [], reconciliation: null, partitions: {}, storage: { tables: [], layers: [] } });
    const quiet = await cli(['status', '--json'], dir);
    expect(quiet.stderr).toBe('');
  });
});
