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
    expect(JSON.parse(await readFile(join(project, 'package.json'), 'utf8'))).toMatchObject({ type: 'module', dependencies: { lakeloop: expect.any(String) } });
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
    // the scaffolded nightly job loads through the `lakeloop` package and is scheduled
    const status = await lakeloop(project, ['status', '--json']);
    expect(status.code, status.err).toBe(0);
    expect(JSON.parse(status.out.split('\n').at(-1) ?? '{}').jobs).toEqual([
      { name: 'nightly-reconcile', kind: 'reconcile', schedule: '0 2 * * *', timezone: 'UTC', enabled: true, next: expect.stringMatching(/T02:00:00\.000Z$/), last: null },
    ]);
  });

  it('never overwrites an existing project', async () => {
    const again = await cli(['init', 'shop'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a project[\s\S]*init never overwrites/);
  });
});
