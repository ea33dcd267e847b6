import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { loadModels, resolveModels, withDownstream, type Model } from '../../src/models/index.js';
import { tempDir } from '../cli/cli-harness.js';
import { PROJECT_ROOT } from '../helpers/child.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ threads: 1 });
});
afterAll(async () => engine.close());

describe('loadModels and resolveModels', () => {
  it("reads the default project's models and orders them by dependency", async () => {
    const definitions = await loadModels(PROJECT_ROOT);
    expect(definitions.map((d) => d.name)).toEqual([
      'gold.customer_lifetime_value',
      'gold.daily_revenue',
      'gold.order_funnel',
      'silver.order_events',
      'silver.orders',
      'silver.page_views',
      'silver.payments',
    ]);
    const dag = await resolveModels(definitions, { engine, knownTables: ['bronze.orders', 'bronze.payments', 'bronze.page_views'] });
    const order = dag.models.map((m) => m.name);
    for (const model of dag.models) for (const up of model.upstream) if (dag.byName.has(up)) expect(order.indexOf(up)).toBeLessThan(order.indexOf(model.name));
    expect(Object.fromEntries(dag.models.map((m) => [m.name, m.upstream]))).toEqual({
      'silver.orders': ['bronze.orders'],
      'silver.order_events': ['bronze.orders'],
      'silver.payments': ['bronze.payments'],
      'silver.page_views': ['bronze.page_views'],
      'gold.daily_revenue': ['silver.orders'],
      'gold.order_funnel': ['silver.order_events', 'silver.page_views'],
      'gold.customer_lifetime_value': ['silver.order_events', 'silver.orders', 'silver.payments'],
    });
    expect(dag.byName.get('silver.orders')?.header).toMatchObject({ kind: 'incremental_by_key', owner: 'checkout-team', partitionBy: ['order_date'], uniqueKey: ['order_id'], lateness: '2h', measures: undefined });
    expect(dag.byName.get('gold.order_funnel')?.header.measures).toEqual(['sessions', 'page_views', 'orders_placed', 'orders_paid', 'orders_shipped', 'orders_cancelled']);
    // What a reconcile or replay of some models recomputes: them and everything downstream, in DAG order.
    expect(withDownstream(dag.models, ['silver.page_views']).map((m) => m.name)).toEqual(['silver.page_views', 'gold.order_funnel']);
    expect(withDownstream(dag.models, ['silver.orders']).map((m) => m.name).sort()).toEqual(['gold.customer_lifetime_value', 'gold.daily_revenue', 'silver.orders']);
  });

  it('withDownstream follows a chain of models to its end', () => {
    const model = (name: string, upstream: string[]): Model => ({ name, upstream }) as unknown as Model;
    const chain = [model('silver.a', ['bronze.x']), model('silver.b', ['silver.a']), model('gold.c', ['silver.b']), model('gold.d', ['bronze.y'])];
    expect(withDownstream(chain, ['silver.a']).map((m) => m.name)).toEqual(['silver.a', 'silver.b', 'gold.c']);
  });

  it('parses every header key, a name override, and ignores CTE names and a trailing semicolon', async () => {
    const { dir, remove } = await tempDir('models-load');
    try {
      await mkdir(join(dir, 'sql', 'gold'), { recursive: true });
      await writeFile(
        join(dir, 'sql', 'gold', 'x.sql'),
        [
          '/*',
          'kind: incremental_by_key',
          'name: renamed',
          'partition_by: order_date',
          'unique_key: [order_id]',
          'version_by: _ingested_at',
          "delete_when: op = 'd'",
          'lateness: 2h',
          'owner: me',
          'freshness: 5m',
          'measures: [revenue, orders]',
          'tests:',
          '  - not_null: [order_id]',
          '*/',
          'WITH t AS (SELECT * FROM bronze.orders) SELECT * FROM t;',
          '',
        ].join('\n'),
      );
      const [model] = await loadModels(dir);
      expect(model?.name).toBe('gold.renamed');
      expect(model?.sql).toBe('WITH t AS (SELECT * FROM bronze.orders) SELECT * FROM t');
      expect(model?.header).toEqual({
        kind: 'incremental_by_key',
        partitionBy: ['order_date'],
        uniqueKey: ['order_id'],
        versionBy: '_ingested_at',
        deleteWhen: "op = 'd'",
        lateness: '2h',
        owner: 'me',
        freshness: '5m',
        measures: ['revenue', 'orders'],
        tests: [{ kind: 'not_null', columns: ['order_id'], severity: 'error', name: 'not_null(order_id)' }],
      });
      const dag = await resolveModels(model ? [model] : [], { engine, knownTables: ['bronze.orders'] });
      expect(dag.models[0]?.upstream).toEqual(['bronze.orders']);
    } finally {
      await remove();
    }
  });
});
