import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadContracts } from '../../src/contracts/index.js';
import { ConfigError } from '../../src/core/index.js';

const DEFINE = JSON.stringify(join(import.meta.dirname, '..', '..', 'src', 'contracts', 'index.ts'));
const ZOD = JSON.stringify(import.meta.resolve('zod'));
const ROOT = join(import.meta.dirname, '..', '..');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-contracts-load-'));
  await mkdir(join(dir, 'contracts'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes contracts/<name> with a contract for `source`; `overrides` replace properties (as code). */
async function writeContract(name: string, source: string, overrides: Record<string, string> = {}): Promise<string> {
  const file = join(dir, 'contracts', name);
  const properties = {
    source: JSON.stringify(source),
    version: '1',
    owner: "'team'",
    schema: 'z.object({ id: z.string(), at: z.iso.datetime() })',
    key: "['id']",
    eventTime: "'at'",
    ...overrides,
  };
  await writeFile(
    file,
    `import { z } from ${ZOD};
     import { defineContract } from ${DEFINE};
     export default defineContract({ ${Object.entries(properties).map(([k, v]) => `${k}: ${v}`).join(', ')} });`,
  );
  return file;
}

async function loadError(projectDir: string): Promise<ConfigError> {
  const error = await loadContracts(projectDir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('loadContracts', () => {
  it('imports every contracts/*.ts by source, in file-name order, with its file', async () => {
    const payments = await writeContract('payments.ts', 'payments', { cdc: 'true', drift: "'strict'" });
    const orders = await writeContract('orders.ts', 'orders');
    await writeFile(join(dir, 'contracts', '_shared.ts'), 'export const x = 1;');
    await writeFile(join(dir, 'contracts', 'types.d.ts'), 'export type X = 1;');
    await writeFile(join(dir, 'contracts', 'README.md'), '# contracts');
    const contracts = await loadContracts(dir);
    expect([...contracts.keys()]).toEqual(['orders', 'payments']);
    expect(contracts.get('orders')?.file).toBe(orders);
    expect(contracts.get('payments')).toMatchObject({ file: payments, cdc: true, drift: 'strict' });
  });

  it('a project without a contracts folder has none', async () => {
    await rm(join(dir, 'contracts'), { recursive: true });
    expect((await loadContracts(dir)).size).toBe(0);
  });

  it('a source defined twice names both files', async () => {
    await writeContract('orders.ts', 'orders');
    const second = await writeContract('orders_v2.ts', 'orders');
    const error = await loadError(dir);
    expect(error.file).toBe(second);
    expect(error.issues).toEqual([{ path: 'source', message: '"orders" is also the source of contracts/orders.ts; each source has one contract' }]);
  });

  it('an invalid contract is reported with its file and the field at fault', async () => {
    const file = await writeContract('orders.ts', 'orders', { eventTime: "'created'" });
    const error = await loadError(dir);
    expect(error.file).toBe(file);
    expect(error.message).toContain(`Invalid config ${file}:\n  - eventTime: "created" is not a field of the schema (fields: id, at)`);
  });

  it('a file without a default export, or that does not load, is named', async () => {
    const file = join(dir, 'contracts', 'orders.ts');
    await writeFile(file, 'export const orders = 1;');
    expect((await loadError(dir)).issues[0]?.message).toBe('has no default export; expected `export default defineContract({ ... })`');
    await writeFile(file, 'export default {;');
    const error = await loadError(dir);
    expect(error.file).toBe(file);
    expect(error.issues[0]?.message).toMatch(/^failed to load: /);
  });

  it('loads the default project contracts: orders, page_views and payments', async () => {
    const contracts = await loadContracts(ROOT);
    expect([...contracts.keys()]).toEqual(['orders', 'page_views', 'payments']);
    expect([...contracts.values()].map((c) => [c.source, c.drift, c.cdc, c.eventTime, c.key])).toEqual([
      ['orders', 'rescue', false, 'order_ts', ['order_id']],
      ['page_views', 'evolve', false, 'viewed_at', ['view_id']],
      ['payments', 'strict', true, 'paid_at', ['payment_id']],
    ]);
  });
});
