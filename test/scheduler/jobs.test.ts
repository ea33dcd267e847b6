import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { defineJob, loadJobs, DEFAULT_JOB_BACKOFF } from '../../src/scheduler/index.js';
import { PROJECT_ROOT } from '../helpers/child.js';
import { LAKELOOP_ENTRY, writeProject } from '../helpers/project.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-jobs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `jobs/<file>` default-exporting `defineJob({ <body> })` from the package entry. */
function jobFile(body: string): string {
  return `import { defineJob } from ${LAKELOOP_ENTRY};\nexport default defineJob({ ${body} });\n`;
}

async function loadError(projectDir: string): Promise<ConfigError> {
  const error = await loadJobs(projectDir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('defineJob', () => {
  it('applies the defaults: 1 h timeout, 2 retries, UTC, enabled, empty params', () => {
    const job = defineJob({ kind: 'compact', schedule: '30 3 * * 0' });
    expect(job).toMatchObject({ name: '', kind: 'compact', schedule: '30 3 * * 0', timeoutMs: 3_600_000, retries: 2, timezone: 'UTC', enabled: true, params: {} });
    expect(job.backoff).toEqual(DEFAULT_JOB_BACKOFF);
    expect(Object.isFrozen(job)).toBe(true);
  });

  it('lists every problem by field', () => {
    const error = (() => {
      try {
        defineJob({ name: 'Nightly Job', kind: 'reindex' as 'custom', schedule: '0 2 * *', timezone: 'Mars/Olympus', retries: -1, colour: 'red' } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['', 'kind', 'name', 'retries', 'schedule', 'timezone']);
    expect((error as ConfigError).message).toMatch(/schedule: "0 2 \* \*" is not a cron expression: expected 5 or 6 fields but got 4/);
    expect((error as ConfigError).message).toContain('unknown field "colour"');
  });

  it('wants run for a custom job and refuses it for the others; params must be JSON', () => {
    expect(() => defineJob({ kind: 'custom', schedule: '* * * * *' })).toThrow(/run: a "custom" job needs run/);
    expect(() => defineJob({ kind: 'vacuum', schedule: '* * * * *', run: async () => ({}) })).toThrow(/run: only "custom" jobs have run/);
    expect(() => defineJob({ kind: 'replay', schedule: '* * * * *', params: { from: new Date() } })).toThrow(/params: expected plain JSON values/);
  });

  it("takes a reconcile or replay job's params.models and params.exclude as selectors: one string or a list", () => {
    for (const params of [{ models: 'silver.*' }, { models: ['+gold.daily_revenue', 'domain:sales+', 'owner:finance'], exclude: 'gold.order_funnel' }]) {
      expect(defineJob({ kind: 'reconcile', schedule: '0 2 * * *', params }).params).toEqual(params);
    }
    expect(() => defineJob({ kind: 'reconcile', schedule: '0 2 * * *', params: { models: 42 } })).toThrow(/params\.models: expected a selector or a non-empty array of selectors/);
    expect(() => defineJob({ kind: 'replay', schedule: '0 2 * * *', params: { models: ['silver.orders', '+'] } })).toThrow(/params\.models: "\+" is not a selector/);
    expect(() => defineJob({ kind: 'reconcile', schedule: '0 2 * * *', params: { exclude: [] } })).toThrow(/params\.exclude: expected a selector/);
    // Other kinds' params are theirs: not selectors.
    expect(defineJob({ kind: 'compact', schedule: '0 2 * * *', params: { models: 42 } }).params).toEqual({ models: 42 });
  });
});

describe('loadJobs', () => {
  it('imports jobs/*.ts in file-name order, named after the file unless they set a name', async () => {
    await writeProject(dir, {
      'jobs/weekly-compact.ts': jobFile("kind: 'compact', schedule: '0 4 * * 0', timezone: 'Europe/Paris', enabled: false"),
      'jobs/nightly.ts': jobFile("name: 'nightly-reconcile', kind: 'reconcile', schedule: '0 2 * * *', params: { window: '7d' }, retries: 5"),
      'jobs/_shared.ts': 'export const window = "7d";\n',
      'jobs/notes.md': '# jobs\n',
    });
    const jobs = await loadJobs(dir);
    expect(jobs.map((j) => [j.name, j.kind, j.schedule, j.timezone, j.enabled, j.retries])).toEqual([
      ['nightly-reconcile', 'reconcile', '0 2 * * *', 'UTC', true, 5],
      ['weekly-compact', 'compact', '0 4 * * 0', 'Europe/Paris', false, 2],
    ]);
    expect(jobs[0]?.params).toEqual({ window: '7d' });
    expect(jobs[0]?.file).toBe(join(dir, 'jobs', 'nightly.ts'));
  });

  it('finds no jobs in a project without a jobs/ folder', async () => {
    await writeProject(dir, {});
    expect(await loadJobs(dir)).toEqual([]);
  });

  it('a bad cron expression is a ConfigError naming the file and the schedule field', async () => {
    await writeProject(dir, { 'jobs/nightly.ts': jobFile("kind: 'reconcile', schedule: '61 2 * * *'") });
    const error = await loadError(dir);
    expect(error.file).toBe(join(dir, 'jobs', 'nightly.ts'));
    expect(error.issues).toEqual([{ path: 'schedule', message: expect.stringContaining('the minute field "61" is out of range or malformed') }]);
    expect(error.message).toContain(join(dir, 'jobs', 'nightly.ts'));
  });

  it('refuses two jobs with one name, a file without a default export, and a name the file cannot give', async () => {
    await writeProject(dir, {
      'jobs/a.ts': jobFile("name: 'same', kind: 'vacuum', schedule: '0 5 * * *'"),
      'jobs/b.ts': jobFile("name: 'same', kind: 'compact', schedule: '0 6 * * *'"),
    });
    expect((await loadError(dir)).message).toMatch(/b\.ts:\n {2}- name: "same" is also the name of the job in jobs\/a\.ts/);

    await rm(join(dir, 'jobs'), { recursive: true });
    await writeProject(dir, { 'jobs/c.ts': 'export const job = 1;\n' });
    expect((await loadError(dir)).message).toMatch(/c\.ts:\n {2}- has no default export; expected `export default defineJob/);

    await rm(join(dir, 'jobs'), { recursive: true });
    await writeProject(dir, { 'jobs/Nightly Run.ts': jobFile("kind: 'vacuum', schedule: '0 5 * * *'") });
    expect((await loadError(dir)).issues).toEqual([{ path: 'name', message: expect.stringContaining('the file name gives no valid job name') }]);
  });

  it("loads the default project's nightly reconcile: 02:00 UTC over the last 7 days", async () => {
    const jobs = await loadJobs(PROJECT_ROOT);
    expect(jobs.map((j) => ({ name: j.name, kind: j.kind, schedule: j.schedule, timezone: j.timezone, params: j.params }))).toEqual([
      { name: 'nightly-reconcile', kind: 'reconcile', schedule: '0 2 * * *', timezone: 'UTC', params: { window: '7d' } },
    ]);
  });
});
