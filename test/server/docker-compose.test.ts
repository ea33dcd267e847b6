import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseS3Url, storeEnvVars } from '../../src/storage/index.js';
import { BufferSink } from '../../src/cli/io.js';
import { buildProgram } from '../../src/cli/program.js';
import { PROJECT_ROOT } from '../helpers/child.js';

/**
 * docker-compose.yml cannot run here (no Docker engine): its wiring is checked instead —
 * MinIO, the bucket the one-shot job creates, and `lakeloop serve` pointed at both with the
 * variables lakeloop really reads, and a command line the CLI accepts.
 */
interface Service {
  image: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
}

async function compose(): Promise<{ services: Record<string, Service>; volumes: Record<string, unknown> }> {
  return parse(await readFile(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
}

describe('docker-compose.yml', () => {
  it('parses, with MinIO, a one-shot bucket creation and lakeloop serve in dependency order', async () => {
    const { services } = await compose();
    expect(Object.keys(services).sort()).toEqual(['create-bucket', 'lakeloop', 'minio']);
    expect(services['minio']?.image).toMatch(/^minio\/minio/);
    expect(services['minio']?.healthcheck?.test).toBeDefined();
    expect(services['create-bucket']?.image).toMatch(/^minio\/mc/);
    expect(services['create-bucket']?.depends_on).toEqual({ minio: { condition: 'service_healthy' } });
    expect(services['lakeloop']?.image).toMatch(/^node:/);
    expect(services['lakeloop']?.depends_on).toEqual({ 'create-bucket': { condition: 'service_completed_successfully' } });
  });

  it('points lakeloop at the bucket it creates, with the endpoint and credentials MinIO has', async () => {
    const { services } = await compose();
    const minio = services['minio'] as Service;
    const mc = services['create-bucket'] as Service;
    const lakeloop = services['lakeloop'] as Service;
    const user = minio.environment?.['MINIO_ROOT_USER'];
    const password = minio.environment?.['MINIO_ROOT_PASSWORD'];

    const mcHost = new URL(mc.environment?.['MC_HOST_minio'] ?? '');
    expect([mcHost.username, mcHost.password, mcHost.hostname, mcHost.port]).toEqual([user, password, 'minio', '9000']);
    const bucket = /^minio\/([a-z0-9.-]+)$/.exec(mc.entrypoint?.at(-1) ?? '')?.[1];
    expect(mc.entrypoint?.slice(0, 3)).toEqual(['mc', 'mb', '--ignore-existing']);

    const script = lakeloop.command?.at(-1) ?? '';
    expect(script).toMatch(/^npm ci --omit=dev && exec node bin\/lakeloop\.js /);
    const lakeRoot = /--lake (\S+)/.exec(script)?.[1] ?? '';
    expect(parseS3Url(lakeRoot).bucket).toBe(bucket);
    const env = lakeloop.environment ?? {};
    expect(new URL(env[storeEnvVars.endpoint] ?? '').host).toBe('minio:9000');
    expect(env['AWS_ACCESS_KEY_ID']).toBe(user);
    expect(env['AWS_SECRET_ACCESS_KEY']).toBe(password);
    expect(minio.ports).toContain('9000:9000');
    const port = /--port (\d+)/.exec(script)?.[1];
    expect(lakeloop.ports).toEqual([`${port}:${port}`]);
    expect(script).toContain('--host 0.0.0.0');
    expect(script).toContain('--sample-feed');
  });

  it('runs a command line of options the CLI has', async () => {
    const { services } = await compose();
    const script = services['lakeloop']?.command?.at(-1) ?? '';
    const argv = script.replace(/^.*exec node bin\/lakeloop\.js /, '').split(' ');
    // commander lets --help through whatever else is on the line, so compare the flags with the program's
    const program = buildProgram({ stdout: new BufferSink(), stderr: new BufferSink(), cwd: PROJECT_ROOT, env: {} }, () => {
      throw new Error('not run');
    });
    const serve = program.commands.find((c) => c.name() === 'serve');
    const known = new Set([...program.options, ...(serve?.options ?? [])].map((o) => o.long));
    const verb = argv.indexOf('serve');
    expect(verb).toBeGreaterThan(0);
    const flags = argv.filter((a) => a.startsWith('--'));
    expect(flags.filter((f) => !known.has(f))).toEqual([]);
    expect(flags).toEqual(['--lake', '--host', '--port', '--instance-id', '--sample-feed']);
    expect(argv[argv.indexOf('--instance-id') + 1]).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('pins every image (no latest), with release tags for MinIO and mc and a Node.js LTS minor', async () => {
    const { services } = await compose();
    for (const [name, service] of Object.entries(services)) {
      expect(service.image, name).toMatch(/^[^:]+:[^:]+$/);
      expect(service.image, name).not.toMatch(/:latest$/);
    }
    expect(services['minio']?.image).toMatch(/^minio\/minio:RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
    expect(services['create-bucket']?.image).toMatch(/^minio\/mc:RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
    const node = /^node:(\d+)\.(\d+)(?:\.\d+)?(?:-[a-z-]+)?$/.exec(services['lakeloop']?.image ?? '');
    expect(node, services['lakeloop']?.image).not.toBeNull();
    const major = Number(node?.[1]);
    // an even major is an LTS line; lakeloop needs >= 20 (package.json engines)
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThanOrEqual(22);
  });

  it('has a healthcheck for every service; lakeloop asks /healthz on the port it serves', async () => {
    const { services } = await compose();
    for (const [name, service] of Object.entries(services)) expect(service.healthcheck?.test?.[0], name).toBe('CMD');
    const lakeloop = services['lakeloop'] as Service;
    const port = /--port (\d+)/.exec(lakeloop.command?.at(-1) ?? '')?.[1];
    expect(lakeloop.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${port}/healthz`);
    expect(lakeloop.stop_grace_period).toBeDefined();
  });
});
