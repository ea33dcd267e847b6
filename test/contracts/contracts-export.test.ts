import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { contractJsonSchema, defineContract } from '../../src/contracts/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';

const ROOT = join(import.meta.dirname, '..', '..');

const definition = {
  source: 'orders',
  version: 3,
  owner: 'checkout',
  description: 'Orders as placed.',
  schema: z.object({
    order_id: z.string(),
    amount: z.number().nonnegative(),
    channel: z.enum(['web', 'ios']).default('web'),
    note: z.string().nullish(),
    order_ts: z.iso.datetime({ offset: true }),
  }),
  key: ['order_id'],
  eventTime: 'order_ts',
} as const;
const orders = defineContract(definition);

describe('contractJsonSchema', () => {
  it("is zod's JSON Schema of what producers send, titled by source, with the contract under x-lakeloop", () => {
    const schema = contractJsonSchema(orders);
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'lakeloop:contract:orders:v3',
      title: 'orders',
      description: 'Orders as placed.',
      type: 'object',
      required: ['order_id', 'amount', 'order_ts'],
      'x-lakeloop': { source: 'orders', version: 3, owner: 'checkout', key: ['order_id'], eventTime: 'order_ts', drift: 'rescue', cdc: false },
    });
    expect(schema['x-lakeloop']).not.toHaveProperty('runbook');
    expect((schema['properties'] as Record<string, unknown>)['amount']).toEqual({ type: 'number', minimum: 0 });
    expect((schema['properties'] as Record<string, unknown>)['channel']).toEqual({ type: 'string', enum: ['web', 'ios'], default: 'web' });
    expect((schema['properties'] as Record<string, unknown>)['note']).toEqual({ type: ['string', 'null'] });
    // rescue and evolve accept new fields; only strict tells producers it will not.
    expect(schema).not.toHaveProperty('additionalProperties');
    expect(contractJsonSchema(defineContract({ ...definition, drift: 'strict' }))['additionalProperties']).toBe(false);
  });
});

describe('lakeloop contracts export', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('contracts-export'));
  });
  afterEach(async () => remove());

  it('writes <source>.schema.json for every contract of the project into --output', async () => {
    const out = join(dir, 'schemas');
    const run = await cli(['contracts', 'export', '--output', out], ROOT);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['orders.schema.json', 'page_views.schema.json', 'payments.schema.json']);
    expect(run.stdout).toContain(`wrote ${join(out, 'orders.schema.json')}  (orders v2, owner checkout-team)`);
    const payments = JSON.parse(await readFile(join(out, 'payments.schema.json'), 'utf8')) as Record<string, unknown>;
    expect(payments).toMatchObject({ title: 'payments', additionalProperties: false, 'x-lakeloop': { cdc: true, drift: 'strict', key: ['payment_id'] } });
  });

  it('--json prints every schema keyed by source, and writes nothing', async () => {
    const run = await cli(['contracts', 'export', '--json'], ROOT);
    expect(run.code).toBe(0);
    const schemas = run.json<Record<string, { title: string; 'x-lakeloop': { eventTime: string } }>>();
    expect(Object.keys(schemas)).toEqual(['orders', 'page_views', 'payments']);
    expect(schemas['page_views']?.['x-lakeloop'].eventTime).toBe('viewed_at');
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('writes to ./contract-schemas by default, from the project of the cwd', async () => {
    await mkdir(join(dir, 'contracts'));
    await writeFile(join(dir, 'contracts', 'clicks.ts'), await readFile(join(ROOT, 'contracts', 'page_views.ts'), 'utf8').then((text) =>
      text.replace(`'../src/contracts/define-contract.js'`, JSON.stringify(join(ROOT, 'src', 'contracts', 'index.ts'))).replace(`from 'zod'`, `from ${JSON.stringify(import.meta.resolve('zod'))}`),
    ));
    const run = await cli(['contracts', 'export'], dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('wrote contract-schemas/page_views.schema.json  (page_views v1, owner web-analytics)\n');
    expect(JSON.parse(await readFile(join(dir, 'contract-schemas', 'page_views.schema.json'), 'utf8'))).toMatchObject({ title: 'page_views' });
  });

  it('a project without contracts says so and exits 1', async () => {
    const run = await cli(['contracts', 'export'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: No contracts in ${join(dir, 'contracts')}`);
    expect(run.stderr).toContain('hint: Add contracts/<source>.ts');
  });

  it('an invalid contract is a config error naming the file (exit 2)', async () => {
    await mkdir(join(dir, 'contracts'));
    const file = join(dir, 'contracts', 'broken.ts');
    await writeFile(file, 'export default { source: "Broken" };');
    const run = await cli(['contracts', 'export'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`error: Invalid config ${file}:`);
    expect(run.stderr).toContain('  - source: expected a snake_case name');
    expect(run.stderr).not.toContain('    at ');
  });

  it('carries the runbook and the SLOs producers are held to, when the contract gives them', () => {
    const held = defineContract({ ...definition, runbook: 'https://wiki.example/runbooks/orders', freshness: '5m', completeness: { minLandedRatio: 0.99 } });
    expect(contractJsonSchema(held)['x-lakeloop']).toMatchObject({
      runbook: 'https://wiki.example/runbooks/orders',
      freshness: '5m',
      completeness: { minLandedRatio: 0.99, window: '15m' },
    });
  });
});
