import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { loadConfig } from '../../src/config/index.js';

const SRC_INDEX = join(import.meta.dirname, '..', '..', 'src', 'index.ts');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(body: string, name = 'lakeloop.config.ts'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, body);
  return file;
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('loadConfig', () => {
  it('loads a valid config written with defineConfig and resolves the lake root against its folder', async () => {
    const file = await writeConfig(`
      import { defineConfig } from ${JSON.stringify(SRC_INDEX)};
      export default defineConfig({
        lake: { root: './data/lake' },
        engine: { threads: 2, memoryLimit: '1GB' },
        sources: { orders: { kind: 'http' } },
      });
    `);
    const sub = join(dir, 'sub');
    await mkdir(sub);
    const config = await loadConfig(sub, '../lakeloop.config.ts');
    expect(config.file).toBe(file);
    expect(config.lake.root).toBe(join(dir, 'data', 'lake'));
    expect(config.lake.location).toEqual({ kind: 'local', path: join(dir, 'data', 'lake') });
    expect(config.engine).toEqual({ threads: 2, memoryLimit: '1GB' });
    expect(config.sources).toEqual({ orders: { kind: 'http' } });
    expect(config.models).toEqual({});
  });

  it('finds lakeloop.config.ts in the folder when no file is given', async () => {
    const file = await writeConfig(`export default { engine: { threads: 3 } };`);
    const config = await loadConfig(dir);
    expect(config.file).toBe(file);
    expect(config.engine.threads).toBe(3);
    expect(config.lake.root).toBe(join(dir, 'lake'));
  });

  it('falls back to the defaults (lake ./lake under the cwd) when there is no config file', async () => {
    const config = await loadConfig(dir);
    expect(config.file).toBeUndefined();
    expect(config.lake.location).toEqual({ kind: 'local', path: join(dir, 'lake') });
    expect(config.engine).toEqual({});
  });

  it('names the file, the field path and what was expected for a bad field', async () => {
    const file = await writeConfig(`export default { engine: { threads: 'two', memoryLimit: 'lots' }, lake: { root: 5 } };`);
    const error = await configError(loadConfig(dir));
    expect(error.file).toBe(file);
    expect(error.message).toContain(file);
    expect(error.message).toContain('engine.threads: expected a positive integer, got "two"');
    expect(error.message).toContain(`engine.memoryLimit: expected a size such as '2GB', '512MB' or '50%', got "lots"`);
    expect(error.message).toContain('lake.root: expected a directory path or s3://bucket/prefix, got 5');
    expect(error.issues.map((i) => i.path).sort()).toEqual(['engine.memoryLimit', 'engine.threads', 'lake.root']);
  });

  it('rejects zero and fractional thread counts', async () => {
    await writeConfig(`export default { engine: { threads: 0 } };`);
    const error = await configError(loadConfig(dir));
    expect(error.issues).toEqual([{ path: 'engine.threads', message: 'expected a positive integer, got 0' }]);
  });

  it('rejects unknown top-level keys, listing the known ones and suggesting the near one', async () => {
    await writeConfig(`export default { lake: {}, engnie: { threads: 2 }, colour: 'blue' };`);
    const error = await configError(loadConfig(dir));
    expect(error.issues).toHaveLength(1);
    const message = error.issues[0]?.message ?? '';
    expect(message).toContain(`unknown keys 'engnie', 'colour'`);
    expect(message).toContain(`did you mean 'engine'`);
    expect(message).toContain('expected one of: lake, engine, sources, models, jobs');
  });

  it('refuses credentials in the S3 section and says where they come from', async () => {
    await writeConfig(`export default { lake: { root: 's3://bucket/x', s3: { secretAccessKey: 'x' } } };`);
    const error = await configError(loadConfig(dir));
    expect(error.issues[0]?.path).toBe('lake.s3');
    expect(error.issues[0]?.message).toContain('AWS_SECRET_ACCESS_KEY');
  });

  it('reports a syntax error as a ConfigError with the reason', async () => {
    const file = await writeConfig(`export default { lake: { root: './lake' ;`);
    const error = await configError(loadConfig(dir));
    expect(error.file).toBe(file);
    expect(error.message).toContain('failed to load');
  });

  it('reports a missing --config file and a config without a default export', async () => {
    const missing = await configError(loadConfig(dir, 'nope.config.ts'));
    expect(missing.message).toContain(join(dir, 'nope.config.ts'));
    expect(missing.message).toContain('no such file');
    await writeConfig(`export const config = {};`);
    const noDefault = await configError(loadConfig(dir));
    expect(noDefault.message).toContain('no default export');
  });

  it('parses s3:// roots into bucket and prefix and resolves the S3 cache dir', async () => {
    await writeConfig(`export default {
      lake: { root: 's3://analytics-lake/prod/lake/', s3: { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, cacheDir: '.cache' } },
    };`);
    const config = await loadConfig(dir);
    expect(config.lake.location).toEqual({ kind: 's3', bucket: 'analytics-lake', prefix: 'prod/lake' });
    expect(config.lake.root).toBe('s3://analytics-lake/prod/lake');
    expect(config.lake.s3).toEqual({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, cacheDir: join(dir, '.cache') });
  });

  it('rejects malformed lake roots and endpoints', async () => {
    await writeConfig(`export default { lake: { root: 's3://', s3: { endpoint: 'localhost:9000' } } };`);
    const error = await configError(loadConfig(dir));
    const byPath = Object.fromEntries(error.issues.map((i) => [i.path, i.message]));
    expect(byPath['lake.root']).toContain('expected a local directory or s3://bucket[/prefix]');
    expect(byPath['lake.s3.endpoint']).toContain('expected an http(s) URL');
    await writeConfig(`export default { lake: { root: 'gs://bucket/x' } };`);
    expect((await configError(loadConfig(dir))).issues[0]?.path).toBe('lake.root');
  });

  it('loads an edited config afresh in the same process', async () => {
    await writeConfig(`export default { engine: { threads: 1 } };`);
    expect((await loadConfig(dir)).engine.threads).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    await writeConfig(`export default { engine: { threads: 7 } };`);
    expect((await loadConfig(dir)).engine.threads).toBe(7);
  });
});

describe("the repository's own config", () => {
  it('is valid: the default project uses ./lake next to it', async () => {
    const root = join(import.meta.dirname, '..', '..');
    const config = await loadConfig(root);
    expect(config.file).toBe(join(root, 'lakeloop.config.ts'));
    expect(config.lake.location).toEqual({ kind: 'local', path: join(root, 'lake') });
  });
});
