import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { importUserModule } from '../config/index.js';
import { ConfigError } from '../core/index.js';
import { validateJob, type Job } from './define-job.js';

/** Where a project keeps its scheduled jobs, relative to the project folder. */
export const JOBS_DIR = 'jobs';

const JOB_FILE = /^[^._][^/\\]*(?<!\.d)\.(ts|mts|js|mjs)$/;

/**
 * Imports every `jobs/*.ts` (also .mts/.js/.mjs; not `.d.ts`, nor names starting with
 * `.` or `_`, which are for shared helpers) of a project, each default-exporting a job
 * (`defineJob`), and returns them in file-name order. A project without a `jobs/` folder
 * has none. Every failure is a `ConfigError` naming the file: unloadable, no default
 * export, invalid (a bad cron expression names `schedule`), or a name used twice.
 *
 * @example
 * const jobs = await loadJobs('/repo');
 * jobs[0]?.name; // 'nightly-reconcile' (from jobs/nightly-reconcile.ts)
 */
export async function loadJobs(projectDir: string): Promise<Job[]> {
  const dir = resolve(projectDir, JOBS_DIR);
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [] as string[];
    throw new ConfigError(dir, [{ path: '', message: `cannot read the folder: ${error.message}` }], { cause: error });
  });
  const jobs: Job[] = [];
  for (const name of names.filter((n) => JOB_FILE.test(n)).sort()) {
    const file = join(dir, name);
    const info = await stat(file);
    if (!info.isFile()) continue;
    const loaded = await importUserModule(file, info.mtimeMs, "export default defineJob({ kind: 'reconcile', schedule: '0 2 * * *' })");
    const job = validateJob(loaded, file);
    const other = jobs.find((j) => j.name === job.name);
    if (other !== undefined) {
      throw new ConfigError(file, [
        { path: 'name', message: `"${job.name}" is also the name of the job in ${relative(projectDir, other.file ?? '')}; job names are unique` },
      ]);
    }
    jobs.push(job);
  }
  return jobs;
}
