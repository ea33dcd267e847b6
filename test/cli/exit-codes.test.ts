import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAKELOOP_ENTRY, writeProject } from '../helpers/project.js';
import { cli, tempDir } from './cli-harness.js';
import { buildFixtureLake } from './lake-fixture.js';

/**
 * The exit codes of README's CLI section, verb by verb: 2 for a usage error and for an
 * invalid project file (config, model), 1 for a failure.
 */
let root: string;
let remove: () => Promise<void>;
/** A project whose one model has a header that is not valid. */
let badModel: string;
/** A project whose config has an unknown key. */
let badConfig: string;
/** A project with a valid model that fails when it runs, and a lake with tables. */
let good: string;

beforeAll(async () => {
  ({ dir: root, remove } = await tempDir('cli-exit-codes'));
  badModel = await writeProject(join(root, 'bad-model'), { 'sql/silver/a.sql': '/*\nkind: full\npartiton_by: day\n*/\nSELECT 1 AS x\n' });
  badConfig = await writeProject(join(root, 'bad-config'), { 'lakeloop.config.ts': 'export default { lake: { root: "./lake" }, engin: {} };\n' });
  good = await writeProject(join(root, 'good'), { 'sql/silver/fails.sql': "/*\nkind: full\n*/\nSELECT CAST('not a number' AS INTEGER) AS x\n" });
  await buildFixtureLake(join(good, 'lake'));
  await mkdir(join(root, 'empty'), { recursive: true });
  await writeFile(join(good, 'existing.txt'), 'x');
});
afterAll(async () => remove());

type Row = readonly [verb: string, argv: readonly string[]];

/** A usage error for every verb: an option it does not have. */
const USAGE: readonly Row[] = [
  ['init', ['init', '--nope']],
  ['ingest', ['ingest', 'orders', '--nope']],
  ['run', ['run', '--nope']],
  ['test', ['test', '--nope']],
  ['query', ['query', 'select 1', '--nope']],
  ['status', ['status', '--nope']],
  ['inspect', ['inspect', 'gold.x', '--nope']],
  ['reconcile', ['reconcile', '--from', '2024-13-45']],
  ['replay', ['replay', '--from', '2024-05-01']],
  ['compact', ['compact', '--min-files', 'many']],
  ['vacuum', ['vacuum', '--retention', 'soon']],
  ['serve', ['serve', '--port', '99999']],
  ['plan', ['plan', '--nope']],
  ['apply', ['apply', '--nope']],
  ['lineage', ['lineage', '--format', 'svg']],
  ['control', ['control', 'explode']],
  ['completion', ['completion', 'fish']],
  ['contracts export', ['contracts', 'export', '--nope']],
];

/** Every verb that loads the project's models, on a project whose model header is invalid. */
const INVALID_MODEL: readonly Row[] = [
  ['run', ['run']],
  ['test', ['test']],
  ['reconcile', ['reconcile']],
  ['replay', ['replay', '--from', '2024-05-01', '--to', '2024-05-02']],
  ['serve', ['serve', '--port', '0', '--no-jobs']],
  ['plan', ['plan']],
  ['apply', ['apply', '--yes']],
  ['lineage', ['lineage']],
];

/** Every verb that loads the config, on a project whose config is invalid. */
const INVALID_CONFIG: readonly Row[] = [
  ['ingest', ['ingest', 'orders', '--file', 'x.ndjson']],
  ['run', ['run']],
  ['test', ['test']],
  ['query', ['query', 'select 1']],
  ['status', ['status']],
  ['inspect', ['inspect', 'gold.x']],
  ['reconcile', ['reconcile']],
  ['compact', ['compact']],
  ['vacuum', ['vacuum']],
  ['serve', ['serve', '--port', '0']],
  ['plan', ['plan']],
  ['lineage', ['lineage']],
  ['contracts export', ['contracts', 'export', '--json']],
];

/** A failure, where one is easy to provoke: something ran and did not succeed. */
const FAILURE: readonly (readonly [verb: string, argv: readonly string[], project: () => string])[] = [
  ['init', ['init', '.'], () => good],
  ['ingest', ['ingest', 'nope', '--file', 'x.ndjson'], () => good],
  ['run', ['run'], () => good],
  ['query', ['query', 'select * from gold.nope'], () => good],
  ['status', ['--lake', 'no-such-lake', 'status'], () => good],
  ['inspect', ['inspect', 'gold.nope'], () => good],
  ['compact', ['--lake', 'no-such-lake', 'compact'], () => good],
  ['vacuum', ['--lake', 'no-such-lake', 'vacuum'], () => good],
  ['control', ['control', 'pause', '--url', 'http://127.0.0.1:9'], () => good],
];

/** Day, duration and number arguments are checked before anything opens, even where the project has no models. */
const BAD_VALUES: readonly Row[] = [
  ['reconcile --from', ['reconcile', '--from', '2024-13-45']],
  ['reconcile --to', ['reconcile', '--to', 'tomorrow']],
  ['reconcile --window', ['reconcile', '--window', 'a while']],
  ['reconcile --threads', ['reconcile', '--threads', 'two']],
  ['replay --chunk-days', ['replay', '--from', '2024-05-01', '--to', '2024-05-02', '--chunk-days', '-1']],
  ['replay --from after --to', ['replay', '--from', '2024-05-03', '--to', '2024-05-02']],
  ['query --as-of', ['query', 'select 1', '--as-of', 'yesterday']],
  ['inspect --as-of', ['inspect', 'gold.x', '--as-of', 'last week']],
  ['vacuum --retention', ['vacuum', '--retention', 'soon']],
  ['serve --full-every', ['serve', '--full-every', 'often']],
  ['serve --poll-ms', ['serve', '--poll-ms', 'fast']],
];

describe('exit codes', () => {
  it.each(BAD_VALUES)('%s: a bad value is a usage error naming the option', async (name, argv) => {
    const run = await cli(argv, join(root, 'empty'));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`${name.split(' ')[1]}`);
    expect(run.stderr).not.toContain('No models');
  });

  it.each(USAGE)('%s: a usage error exits 2', async (_verb, argv) => {
    const run = await cli(argv, join(root, 'empty'));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).not.toContain('internal error');
  });

  it.each(INVALID_MODEL)('%s: an invalid model file exits 2', async (_verb, argv) => {
    const run = await cli(argv, badModel);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain('partiton_by: unknown header key (did you mean partition_by?)');
  });

  it.each(INVALID_CONFIG)('%s: an invalid config exits 2', async (_verb, argv) => {
    const run = await cli(argv, badConfig);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain('engin');
  });

  it("serve: a job whose model selector matches no model is an invalid job file, exit 2, before anything listens", async () => {
    const project = await writeProject(join(root, 'bad-job'), {
      'sql/silver/a.sql': '/*\nkind: full\n*/\nSELECT 1 AS x\n',
      'jobs/nightly.ts': `import { defineJob } from ${LAKELOOP_ENTRY};\nexport default defineJob({ kind: 'reconcile', schedule: '0 2 * * *', params: { models: ['silver.b'], exclude: 'silver.*' } });\n`,
    });
    const run = await cli(['serve', '--port', '0', '--no-models'], project);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/jobs\/nightly\.ts/);
    expect(run.stderr).toContain('params.models: no model matches silver.b: did you mean silver.a?');
    expect(run.stdout).not.toContain('listening on');
  });

  it.each(FAILURE)('%s: a failure exits 1', async (_verb, argv, project) => {
    const run = await cli(argv, project());
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^error: /m);
    expect(run.stderr).not.toContain('internal error');
  });
});
