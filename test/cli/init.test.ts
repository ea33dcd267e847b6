import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, spawnTs } from '../helpers/child.js';
import { cli, tempDir } from './cli-harness.js';

/** `lakeloop init`: the generated project ingests, runs and queries as generated. */
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('lakeloop-init-'));
});

afterAll(async () => remove());

async function lakeloop(cwd: string, args: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const child = spawnTs('bin/lakeloop.js', args, {}, cwd);
  const code = await child.exited;
  return { code, out: child.lines.join('\n'), err: child.stderr() };
}

describe('lakeloop init', () => {
  it('scaffolds a project whose sample lands, builds and answers queries', async () => {
    const made = await cli(['init', 'shop'], dir);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('npx lakeloop ingest events --file data/sample.ndjson');
    const project = join(dir, 'shop');
    // while lakeloop is on no registry, the project depends on the lakeloop that created it
    expect(JSON.parse(await readFile(join(project, 'package.json'), 'utf8'))).toMatchObject({ type: 'module', dependencies: { lakeloop: `file:${PROJECT_ROOT}` } });
    expect(JSON.parse(await readFile(join(project, 'tsconfig.json'), 'utf8'))).toMatchObject({ compilerOptions: { module: 'NodeNext', strict: true } });
    expect(await readFile(join(project, 'README.md'), 'utf8')).toContain('npx lakeloop reconcile --from 2026-11-01 --to 2026-11-02');
    // models of streaming kinds: silver merges new bronze rows by key, gold rewrites the changed days
    expect(await readFile(join(project, 'sql', 'silver', 'events.sql'), 'utf8')).toMatch(/^kind: incremental_by_key$/m);
    expect(await readFile(join(project, 'sql', 'gold', 'daily_events.sql'), 'utf8')).toMatch(/^kind: incremental_by_partition$/m);
    // what `npm install` would do: make the lakeloop package resolvable from the project
    await mkdir(join(project, 'node_modules'), { recursive: true });
    await symlink(PROJECT_ROOT, join(project, 'node_modules', 'lakeloop'), 'dir');

    const ingest = await lakeloop(project, ['ingest', 'events', '--file', 'data/sample.ndjson', '--json']);
    expect(ingest.code, ingest.err).toBe(0);
    expect(JSON.parse(ingest.out.split('\n').at(-1) ?? '{}')).toMatchObject({ received: 6, landed: 5, quarantined: 1 });
    const run = await lakeloop(project, ['run']);
    expect(run.code, run.err).toBe(0);
    const query = await lakeloop(project, ['query', 'select day, kind, events from gold.daily_events order by day, kind', '--format', 'csv']);
    expect(query.code, query.err).toBe(0);
    expect(query.out).toBe('day,kind,events\n2026-11-01,click,1\n2026-11-01,purchase,1\n2026-11-01,view,1\n2026-11-02,view,1');
    const reconcile = await lakeloop(project, ['reconcile', '--from', '2026-11-01', '--to', '2026-11-02', '--priority', 'normal', '--json']);
    expect(reconcile.code, reconcile.err).toBe(0);
    const report = JSON.parse(reconcile.out.split('\n').at(-1) ?? '{}') as { models: { model: string; partitions: { partition: string; status: string }[] }[] };
    // the streaming run already built every day exactly: reconcile finds nothing to correct
    expect(report.models.flatMap((m) => m.partitions.map((p) => `${m.model} ${p.partition} ${p.status}`))).toEqual([
      'silver.events 2026-11-01 match',
      'silver.events 2026-11-02 match',
      'gold.daily_events 2026-11-01 match',
      'gold.daily_events 2026-11-02 match',
    ]);
    // the scaffolded nightly job loads through the `lakeloop` package and is scheduled
    const status = await lakeloop(project, ['status', '--json']);
    expect(status.code, status.err).toBe(0);
    expect(JSON.parse(status.out.split('\n').at(-1) ?? '{}').jobs).toEqual([
      { name: 'nightly-reconcile', kind: 'reconcile', schedule: '0 2 * * *', timezone: 'UTC', enabled: true, next: expect.stringMatching(/T02:00:00\.000Z$/), last: null },
    ]);
  });

  it('writes the dependency that --from or LAKELOOP_PACKAGE_SPEC names', async () => {
    const published = await cli(['init', 'published', '--from', '^0.1.0'], dir);
    expect(published.code, published.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'published', 'package.json'), 'utf8')).dependencies).toEqual({ lakeloop: '^0.1.0' });
    const tarball = await cli(['init', 'tarball'], dir, { LAKELOOP_PACKAGE_SPEC: 'file:/opt/lakeloop-0.1.0.tgz' });
    expect(tarball.code, tarball.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'tarball', 'package.json'), 'utf8')).dependencies).toEqual({ lakeloop: 'file:/opt/lakeloop-0.1.0.tgz' });
  });

  it('never overwrites an existing project', async () => {
    const again = await cli(['init', 'shop'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a project[\s\S]*init never overwrites/);
  });
});
