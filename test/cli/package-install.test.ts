import { existsSync } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAndInstall, sh } from '../../bench/fixtures/packed-install.js';
import { PROJECT_ROOT } from '../helpers/child.js';
import { tempDir } from './cli-harness.js';

/**
 * The package as a user gets it: `npm pack` (which builds dist/ through `prepack`), the
 * tarball installed into an empty folder outside this repository, its CLI scaffolding a
 * project with `lakeloop init`, and that project installed and run: ingest, run, query,
 * reconcile, status. Everything offline, from the npm cache that `npm ci` filled (see
 * packAndInstall for why the first install is locked).
 */
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('package-install'));
  dir = await realpath(dir);
});

afterAll(async () => remove());

describe('the packed lakeloop, installed into a project of its own', () => {
  it('installs offline, and its init scaffolds a project that installs, ingests, runs, queries and reconciles', { timeout: 300_000 }, async () => {
    const { files, app, installed } = await packAndInstall(dir);
    expect(files.filter((f) => /^package\/(test|tests|bench|src|sql|contracts|jobs|lake)\/|fixture/.test(f))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['package/package.json', 'package/README.md', 'package/LICENSE', 'package/docs/cli.md', 'package/bin/lakeloop.js', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/cli/main.js']));
    // the installed package runs dist/: it has no TypeScript sources
    expect(existsSync(join(installed, 'src'))).toBe(false);
    expect((await sh(app, 'npx', ['--offline', 'lakeloop', '--version'])).trim()).toBe('0.1.0');

    const lakeloopIn = (cwd: string) => (args: readonly string[]) => sh(cwd, join(cwd, 'node_modules', '.bin', 'lakeloop'), args);
    await lakeloopIn(app)(['init', 'proj']);
    const project = join(app, 'proj');
    expect(JSON.parse(await readFile(join(project, 'package.json'), 'utf8')).dependencies).toEqual({ lakeloop: `file:${installed}` });
    await sh(project, 'npm', ['install', '--offline', '--no-audit', '--no-fund']);
    // the project's TypeScript type-checks against the package's .d.ts (this repository's tsc as the tool)
    await sh(project, process.execPath, [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);

    const lakeloop = lakeloopIn(project);
    // contracts/events.ts and lakeloop.config.ts are TypeScript that imports 'lakeloop': dist/index.js
    const ingest = JSON.parse((await lakeloop(['ingest', 'events', '--file', 'data/sample.ndjson', '--json'])).trim().split('\n').at(-1) ?? '{}');
    expect(ingest).toMatchObject({ received: 6, landed: 5, quarantined: 1 });
    await lakeloop(['run']);
    const query = await lakeloop(['query', 'select day, kind, events from gold.daily_events order by day, kind', '--format', 'csv']);
    expect(query.trim()).toBe('day,kind,events\n2026-11-01,click,1\n2026-11-01,purchase,1\n2026-11-01,view,1\n2026-11-02,view,1');
    const reconcile = JSON.parse((await lakeloop(['reconcile', '--from', '2026-11-01', '--to', '2026-11-02', '--priority', 'normal', '--json'])).trim().split('\n').at(-1) ?? '{}') as {
      models: { model: string; partitions: { status: string }[] }[];
    };
    expect(reconcile.models.map((m) => `${m.model}: ${m.partitions.map((p) => p.status).join(' ')}`)).toEqual(['silver.events: match match', 'gold.daily_events: match match']);
    // jobs/nightly-reconcile.ts loads too
    const status = JSON.parse((await lakeloop(['status', '--json'])).trim().split('\n').at(-1) ?? '{}') as { jobs: { name: string }[] };
    expect(status.jobs.map((j) => j.name)).toEqual(['nightly-reconcile']);
    // the project's TypeScript went through lakeloop's own hooks: one transpile cache entry per file
    expect((await readdir(join(project, 'node_modules', '.cache', 'lakeloop', 'ts'))).filter((f) => f.endsWith('.mjs'))).toHaveLength(3);
  });
});
