import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCompiled } from '../../bench/fixtures/compiled-build.js';
import { userEnv } from '../../bench/fixtures/packed-install.js';
import { PROJECT_ROOT } from '../helpers/child.js';
import { tempDir } from '../cli/cli-harness.js';

/**
 * The compiled package loading a project's TypeScript through its own hooks
 * (src/config/user-module-hooks.ts): `node <build>/bin/lakeloop.js` in real projects, with
 * `LAKELOOP_TS_LOADER_DEBUG=1` printing one line per file (`cache hit` / `cache miss`).
 * `noCompiler` is the same build whose node_modules has no tsx and an esbuild that throws
 * when imported: a command that succeeds there loaded neither.
 */
let dir: string;
let remove: () => Promise<void>;
let build: string;
let noCompiler: string;

const execFileAsync = promisify(execFile);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function lakeloop(cli: string, cwd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [join(cli, 'bin', 'lakeloop.js'), ...args], {
      cwd,
      env: { ...userEnv(), LAKELOOP_TS_LOADER_DEBUG: '1', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: code ?? -1, stdout: stdout ?? '', stderr: stderr ?? '' };
  }
}

/** `lakeloop contracts export --json`'s schema of `events`, failing with the command's output. */
async function eventsSchema(cli: string, cwd: string, env: Record<string, string> = {}): Promise<{ run: Run; kinds: string[] }> {
  const run = await lakeloop(cli, cwd, ['contracts', 'export', '--json'], env);
  expect(run.code, run.stderr).toBe(0);
  const schemas = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { events: { properties: { kind: { enum: string[] } } } };
  return { run, kinds: schemas.events.properties.kind.enum };
}

const CONTRACT = `import { defineContract, z } from 'lakeloop';
import { KINDS } from '../shared.js';
import { idField } from '../lib';

interface Owned {
  readonly owner: string;
}
const owned: Owned = { owner: 'me' };

export default defineContract({
  source: 'events',
  version: 1,
  owner: owned.owner,
  schema: z.object({ event_id: idField(), kind: z.enum(KINDS), event_ts: z.iso.datetime({ offset: true }) }),
  key: ['event_id'],
  eventTime: 'event_ts',
});
`;

/** A user's project: lakeloop.config.ts and a contract importing helpers as TypeScript does (`./x.js` for x.ts, a folder's index.ts) and `'lakeloop'`. */
async function writeProject(project: string, type: 'module' | 'commonjs', withNodeModules: boolean): Promise<string> {
  await mkdir(join(project, 'contracts'), { recursive: true });
  await mkdir(join(project, 'lib'), { recursive: true });
  await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'p', private: true, type })}\n`);
  if (withNodeModules) {
    await mkdir(join(project, 'node_modules'));
    await symlink(build, join(project, 'node_modules', 'lakeloop'), 'dir');
  }
  await writeFile(join(project, 'shared.ts'), `export const LAKE_ROOT: string = './lake';\nexport const KINDS = ['view', 'click'] as const;\n`);
  await writeFile(join(project, 'lib', 'index.ts'), `import { z } from 'lakeloop';\nexport function idField(): z.ZodString {\n  return z.string().min(1);\n}\n`);
  await writeFile(join(project, 'lakeloop.config.ts'), `import { defineConfig } from 'lakeloop';\nimport { LAKE_ROOT } from './shared.js';\n\nexport default defineConfig({ lake: { root: LAKE_ROOT } });\n`);
  await writeFile(join(project, 'contracts', 'events.ts'), CONTRACT);
  const events = [
    { event_id: 'e1', kind: 'view', event_ts: '2026-11-01T09:00:00Z' },
    { event_id: 'e2', kind: 'click', event_ts: '2026-11-01T09:00:05Z' },
    { event_id: 'e3', kind: 'purchase', event_ts: '2026-11-01T10:30:00Z' },
  ];
  await writeFile(join(project, 'events.ndjson'), events.map((e) => `${JSON.stringify(e)}\n`).join(''));
  return project;
}

function loaderLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('lakeloop ts loader: '))
    .map((l) => l.slice('lakeloop ts loader: '.length));
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('ts-hooks'));
  dir = await realpath(dir);
  build = await buildCompiled(join(dir, 'build'));
  // The same dist/, with a node_modules that has every package but tsx, and an esbuild whose code throws.
  noCompiler = join(dir, 'no-compiler');
  await cp(join(build, 'dist'), join(noCompiler, 'dist'), { recursive: true });
  await cp(join(build, 'bin'), join(noCompiler, 'bin'), { recursive: true });
  await cp(join(build, 'package.json'), join(noCompiler, 'package.json'));
  const modules = join(noCompiler, 'node_modules');
  await mkdir(join(modules, 'esbuild', 'lib'), { recursive: true });
  for (const name of await readdir(join(PROJECT_ROOT, 'node_modules'))) {
    if (name !== 'tsx' && name !== 'esbuild') await symlink(join(PROJECT_ROOT, 'node_modules', name), join(modules, name));
  }
  await cp(join(PROJECT_ROOT, 'node_modules', 'esbuild', 'package.json'), join(modules, 'esbuild', 'package.json'));
  await writeFile(join(modules, 'esbuild', 'lib', 'main.js'), `throw new Error('esbuild was loaded');\n`);
}, 180_000);

afterAll(async () => remove());

describe("the compiled package's TypeScript hooks", () => {
  let project: string;
  let cache: string;

  it('load an ES module project (helpers as ./x.js and a folder, lakeloop) and write a cache entry per file', async () => {
    project = await writeProject(join(dir, 'esm'), 'module', true);
    cache = join(project, 'node_modules', '.cache', 'lakeloop', 'ts');
    const ingest = await lakeloop(build, project, ['ingest', 'events', '--file', 'events.ndjson', '--json']);
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(JSON.parse(ingest.stdout.trim().split('\n').at(-1) ?? '{}')).toMatchObject({ received: 3, landed: 2, quarantined: 1 });
    const files = ['lakeloop.config.ts', 'shared.ts', 'contracts/events.ts', 'lib/index.ts'];
    expect(loaderLines(ingest.stderr).sort()).toEqual([`cache folder ${cache}`, ...files.map((f) => `cache miss ${join(project, f)} (esbuild)`)].sort());
    expect((await readdir(cache)).filter((n) => n.endsWith('.mjs'))).toHaveLength(files.length);
  });

  it('load unchanged files from the cache, without esbuild or tsx', async () => {
    const { run, kinds } = await eventsSchema(noCompiler, project);
    expect(kinds).toEqual(['view', 'click']);
    const lines = loaderLines(run.stderr);
    expect(lines.filter((l) => l.startsWith('cache hit '))).toHaveLength(4);
    expect(lines.filter((l) => l.startsWith('cache miss '))).toEqual([]);
  });

  it('compile an edited contract afresh and drop its old entry', async () => {
    await writeFile(join(project, 'contracts', 'events.ts'), CONTRACT.replace('z.enum(KINDS)', "z.enum([...KINDS, 'purchase'])"));
    // the build without esbuild cannot: the edit is not served from the cache
    const stale = await lakeloop(noCompiler, project, ['contracts', 'export', '--json']);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain('esbuild was loaded');
    const { run, kinds } = await eventsSchema(build, project);
    expect(kinds).toEqual(['view', 'click', 'purchase']);
    expect(loaderLines(run.stderr).filter((l) => l.startsWith('cache miss '))).toEqual([`cache miss ${join(project, 'contracts', 'events.ts')} (esbuild)`]);
    expect((await readdir(cache)).filter((n) => n.endsWith('.mjs'))).toHaveLength(4);
  });

  it("report a contract's syntax error as a ConfigError with the file, line and column", async () => {
    await writeFile(join(project, 'contracts', 'broken.ts'), `import { defineContract } from 'lakeloop';\n\nexport default defineContract({ source: 'broken', version: 1 ;\n`);
    const run = await lakeloop(build, project, ['contracts', 'export', '--json']);
    await rm(join(project, 'contracts', 'broken.ts'));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`Invalid config ${join(project, 'contracts', 'broken.ts')}`);
    expect(run.stderr).toMatch(new RegExp(`failed to load: ${join(project, 'contracts', 'broken.ts')}:3:62: Expected "}" but found ";"`));
  });

  it("point a stack trace into the project file's TypeScript lines (source maps)", async () => {
    // the interface is gone from esbuild's output, so only the source map gives line 6
    const thrower = `interface X {\n  readonly a: number;\n}\nconst x: X = { a: 1 };\n\nconst where = new Error().stack?.split('\\n')[1]?.trim();\nthrow new Error(\`boom \${x.a} \${where}\`);\n`;
    await writeFile(join(project, 'contracts', 'thrower.ts'), thrower);
    const run = await lakeloop(build, project, ['contracts', 'export', '--json']);
    await rm(join(project, 'contracts', 'thrower.ts'));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`failed to load: boom 1 at <anonymous> (${join(project, 'contracts', 'thrower.ts')}:6:`);
  });
});

describe('projects the hooks leave to tsx, and other cache folders', () => {
  it('load a CommonJS-typed project through tsx, as before', async () => {
    // CommonJS as tsx runs it for the compiled CLI today: require and module.exports (its
    // TypeScript syntax is not transformed there, and \`export default\` is the namespace)
    const project = join(dir, 'cjs');
    await mkdir(join(project, 'contracts'), { recursive: true });
    await mkdir(join(project, 'node_modules'));
    await symlink(build, join(project, 'node_modules', 'lakeloop'), 'dir');
    await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'p', private: true, type: 'commonjs' })}\n`);
    await writeFile(join(project, 'lakeloop.config.ts'), `const { defineConfig } = require('lakeloop');\nmodule.exports = defineConfig({ lake: { root: './lake' } });\n`);
    const contract = `const { defineContract, z } = require('lakeloop');\nmodule.exports = defineContract({ source: 'events', version: 1, owner: 'me', schema: z.object({ event_id: z.string(), kind: z.enum(['view', 'click']), event_ts: z.iso.datetime({ offset: true }) }), key: ['event_id'], eventTime: 'event_ts' });\n`;
    await writeFile(join(project, 'contracts', 'events.ts'), contract);
    const { run, kinds } = await eventsSchema(build, project);
    expect(kinds).toEqual(['view', 'click']);
    expect(loaderLines(run.stderr)).toEqual(['tsx']);
    expect(await readdir(join(project, 'node_modules'))).toEqual(['lakeloop']);
  });

  it('use tsx when LAKELOOP_TS_LOADER=tsx', async () => {
    const project = await writeProject(join(dir, 'forced-tsx'), 'module', true);
    const { run } = await eventsSchema(build, project, { LAKELOOP_TS_LOADER: 'tsx' });
    expect(loaderLines(run.stderr)).toEqual(['tsx']);
  });

  it('cache under the user-private tmp folder without node_modules, and load uncached where no folder is usable', async () => {
    const project = await writeProject(join(dir, 'bare'), 'module', false);
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    const uid = typeof process.getuid === 'function' ? `-${process.getuid()}` : '';
    const first = await eventsSchema(build, project, { TMPDIR: tmp });
    expect(loaderLines(first.run.stderr)).toContain(`cache folder ${join(tmp, `lakeloop-ts${uid}`)}`);
    expect(await readdir(join(tmp, `lakeloop-ts${uid}`))).toHaveLength(4);
    // a folder others can write is not used (its entries would run as code)
    await chmod(join(tmp, `lakeloop-ts${uid}`), 0o777);
    const shared = await eventsSchema(build, project, { TMPDIR: tmp });
    expect(loaderLines(shared.run.stderr)).toContain('no cache folder');
    expect(loaderLines(shared.run.stderr).filter((l) => l.startsWith('cache miss '))).toHaveLength(4);
    // LAKELOOP_TS_CACHE_DIR that cannot be created: loads, uncached
    await writeFile(join(dir, 'a-file'), '');
    const unwritable = await eventsSchema(build, project, { LAKELOOP_TS_CACHE_DIR: join(dir, 'a-file', 'cache') });
    expect(unwritable.kinds).toEqual(['view', 'click']);
    expect(loaderLines(unwritable.run.stderr)).toContain('no cache folder');
    expect(await readFile(join(project, 'shared.ts'), 'utf8')).toContain('KINDS');
  });
});
