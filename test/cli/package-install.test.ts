import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/child.js';
import { tempDir } from './cli-harness.js';

/**
 * The package as a user gets it: `npm pack` (which builds dist/ through `prepack`), the
 * tarball installed into an empty folder outside this repository, its CLI scaffolding a
 * project with `lakeloop init`, and that project installed and run: ingest, run, query,
 * reconcile, status. Everything offline, from the npm cache that `npm ci` filled.
 */
const run = promisify(execFile);

/** npm's and vitest's settings stay out of the children: they install and run as a user's shell would. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|node_options$|vitest|init_cwd$)/i.test(key)) env[key] = value;
  }
  // a CI that points npm at another cache keeps it
  if (process.env['npm_config_cache']) env['npm_config_cache'] = process.env['npm_config_cache'];
  return env;
}

async function sh(cwd: string, command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, env: userEnv(), maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stderr ?? ''}\n${stdout ?? ''}`, { cause: error });
  }
}

/**
 * The folder that installs the tarball, with a lockfile pinning lakeloop's dependencies to
 * the versions of this repository's package-lock.json. Why not a plain `npm install
 * --offline <tarball>`: npm 11 resolves a dependency range from the *full* packument, while
 * the cache `npm ci` fills holds tarballs and abbreviated packuments only, so that fails with
 * ENOTCACHED without the network. A locked install needs only what `npm ci` cached.
 */
async function writeLockedApp(app: string, tarball: string): Promise<void> {
  const lock = JSON.parse(await readFile(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; version?: string; license?: string; dependencies?: object; bin?: object; engines?: object }>;
  };
  const self = lock.packages[''] ?? {};
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { lakeloop: spec } },
    'node_modules/lakeloop': { version: self.version, resolved: spec, license: self.license, dependencies: self.dependencies, bin: self.bin, engines: self.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && !entry.dev) packages[path] = entry;
  await writeFile(join(app, 'package.json'), `${JSON.stringify({ name: 'app', private: true, dependencies: { lakeloop: spec } }, null, 2)}\n`);
  await writeFile(join(app, 'package-lock.json'), `${JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
}

let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('package-install'));
  dir = await realpath(dir);
});

afterAll(async () => remove());

describe('the packed lakeloop, installed into a project of its own', () => {
  it('installs offline, and its init scaffolds a project that installs, ingests, runs, queries and reconciles', { timeout: 300_000 }, async () => {
    const packed = JSON.parse(await sh(PROJECT_ROOT, 'npm', ['pack', '--json', '--pack-destination', dir])) as { filename: string }[];
    const tarball = join(dir, packed[0]?.filename ?? 'lakeloop.tgz');
    const files = (await sh(dir, 'tar', ['tzf', tarball])).split('\n').filter((f) => f !== '');
    expect(files.filter((f) => /^package\/(test|tests|bench|src|sql|contracts|jobs|lake)\/|fixture/.test(f))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['package/package.json', 'package/README.md', 'package/bin/lakeloop.js', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/cli/main.js']));

    const app = join(dir, 'app');
    await sh(dir, 'mkdir', [app]);
    await writeLockedApp(app, tarball);
    await sh(app, 'npm', ['ci', '--offline', '--no-audit', '--no-fund']);
    const installed = join(app, 'node_modules', 'lakeloop');
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
  });
});
