import { ManualClock } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore, type ObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';

/** When the fixture's commits happen: version v is committed at START_MS + v hours. */
export const START_MS = Date.parse('2024-05-01T00:00:00Z');
export const HOUR_MS = 3_600_000;

/**
 * A small realistic lake written through the table API, with a ManualClock so commit
 * times are known:
 * - `bronze.orders` (partitioned by order_date): v0 create, v1 append 3 rows (2 days),
 *   v2 append 2 rows, v3 overwrite the 2024-05-01 partition with 1 row;
 * - `gold.daily_revenue` (unpartitioned): v0 create, v1 append 2 rows, with a text
 *   column holding commas, quotes and a newline (for CSV quoting).
 */
export async function buildFixtureLake(rootOrStore: string | ObjectStore): Promise<void> {
  const clock = new ManualClock(START_MS);
  const store = typeof rootOrStore === 'string' ? await LocalObjectStore.create(rootOrStore) : rootOrStore;
  const engine = await Engine.create({ threads: 2 });
  try {
    const lake = await Lake.open({ store, engine, clock });
    const orders = await lake.createTable('bronze.orders', {
      columns: [
        { name: 'order_id', type: 'BIGINT' },
        { name: 'customer', type: 'VARCHAR' },
        { name: 'amount', type: 'DECIMAL(10,2)' },
        { name: 'order_date', type: 'DATE' },
      ],
      partitionColumns: ['order_date'],
    });
    clock.advance(HOUR_MS);
    await orders.append(`SELECT * FROM (VALUES
      (1::BIGINT, 'ann', 10.50::DECIMAL(10,2), DATE '2024-05-01'),
      (2::BIGINT, 'bob', 20.00::DECIMAL(10,2), DATE '2024-05-01'),
      (3::BIGINT, 'cy', 5.25::DECIMAL(10,2), DATE '2024-05-02')) t(order_id, customer, amount, order_date)`);
    clock.advance(HOUR_MS);
    await orders.append(`SELECT * FROM (VALUES
      (4::BIGINT, 'dee', 7.00::DECIMAL(10,2), DATE '2024-05-02'),
      (9007199254740993::BIGINT, 'eve', 1.00::DECIMAL(10,2), DATE '2024-05-03')) t(order_id, customer, amount, order_date)`);
    clock.advance(HOUR_MS);
    await orders.overwritePartitions(`SELECT 5::BIGINT AS order_id, 'fay' AS customer, 99.99::DECIMAL(10,2) AS amount, DATE '2024-05-01' AS order_date`);

    const revenue = await lake.createTable('gold.daily_revenue', {
      columns: [
        { name: 'day', type: 'DATE' },
        { name: 'revenue', type: 'DECIMAL(12,2)' },
        { name: 'orders', type: 'BIGINT' },
        { name: 'note', type: 'VARCHAR' },
      ],
    });
    clock.advance(HOUR_MS);
    await revenue.append(`SELECT * FROM (VALUES
      (DATE '2024-05-01', 30.50::DECIMAL(12,2), 2::BIGINT, 'plain'),
      (DATE '2024-05-02', 5.25::DECIMAL(12,2), 1::BIGINT, 'has, comma and "quotes"
and a newline')) t(day, revenue, orders, note)`);
  } finally {
    await engine.close();
    if (typeof rootOrStore === 'string') await store.close();
  }
}
