import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROJECT_ROOT } from '../helpers/child.js';
import { cli, tempDir } from './cli-harness.js';

/**
 * "S3 without Docker" as the README tells it: s3rver started by `npm run s3:local` (its
 * command line taken from package.json, only the port and data directory swapped for a free
 * port and a temp folder), no patch of its listings, then the README's environment and
 * `ingest`, `run`, `status` on the default project. s3rver leaves folders that hold only
 * sub-folders out of Delimiter listings: status must still list every partitioned table.
 */
const README_ENV = {
  LAKELOOP_S3_ENDPOINT: 'http://127.0.0.1:4568',
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
};
const LAKE = 's3://lakeloop/lake';

let dir: string;
let remove: () => Promise<void>;
let server: ChildProcess | undefined;
let env: Record<string, string>;

async function startAsReadme(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const scripts = (JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const command = scripts['s3:local'] ?? '';
  expect(command).toContain('--directory ./s3-data');
  expect(command).toContain('--port 4568');
  const argv = command
    .replace('--directory ./s3-data', `--directory ${dataDir}`)
    .replace('--port 4568', '--port 0')
    .split(' ');
  expect(argv[0]).toBe('node');
  const child = spawn(process.execPath, argv.slice(1), { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${out}`)), 20_000);
    const read = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = /S3rver listening on [\d.]+:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.on('exit', (code) => reject(new Error(`s3rver exited (${code}): ${out}`)));
  });
  return { child, port };
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('s3rver-by-hand'));
  const started = await startAsReadme(join(dir, 's3-data'));
  server = started.child;
  env = { ...README_ENV, LAKELOOP_S3_ENDPOINT: `http://127.0.0.1:${started.port}`, LAKELOOP_S3_CACHE_DIR: join(dir, 'cache') };
  // The AWS SDK reads credentials and region from the process environment.
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
}, 30_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await remove?.();
});

describe('S3 without Docker, as the README says', () => {
  it('the README gives the command, the environment and the single-writer notice', async () => {
    const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm run s3:local');
    for (const [name, value] of Object.entries(README_ENV)) expect(readme).toContain(`${name}=${value}`);
    expect(readme).toContain(`--lake ${LAKE}`);
    expect(readme).toMatch(/s3rver[^\n]*\n?[^\n]*conditional writes/);
  });

  it('ingest, run and status work on it; status lists the partitioned tables', async () => {
    const file = join(dir, 'orders.ndjson');
    await writeFile(
      file,
      `${JSON.stringify({ order_id: 'ord_1', customer_id: 'c1', status: 'paid', amount: 42.5, currency: 'EUR', country: 'DE', item_count: 2, order_ts: '2026-10-01T10:00:00Z' })}\n`,
    );
    const ingest = await cli(['--lake', LAKE, 'ingest', 'orders', '--file', file], PROJECT_ROOT, env);
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(ingest.stdout).toMatch(/orders: 1 landed/);
    expect(ingest.stderr).toMatch(/does not enforce conditional writes.*single-writer/);

    const run = await cli(['--lake', LAKE, 'run', '--json'], PROJECT_ROOT, env);
    expect(run.code, run.stderr).toBe(0);

    const status = await cli(['--lake', LAKE, 'status', '--json'], PROJECT_ROOT, env);
    expect(status.code, status.stderr).toBe(0);
    const names = status.json<{ tables: { name: string }[] }>().tables.map((t) => t.name);
    const inspect = await cli(['--lake', LAKE, 'inspect', 'bronze.orders', '--json'], PROJECT_ROOT, env);
    expect(inspect.json<{ partitionColumns: string[] }>().partitionColumns.length).toBeGreaterThan(0);
    expect(names).toContain('bronze.orders');
    expect(names).toContain('silver.orders');
    expect(names).toContain('gold.daily_revenue');
  }, 120_000);
});
