import { describe, expect, it } from 'vitest';
import { LakeloopError } from '../../src/core/index.js';
import { measureColumns } from '../../src/reconcile/index.js';

/** Which columns a reconcile report sums: the model's measures, never ids, positions, ranks or averages. */
const columns = [
  { name: 'payment_id', type: 'VARCHAR' },
  { name: 'customer_id', type: 'BIGINT' },
  { name: 'paid_date', type: 'DATE' },
  { name: 'day_number', type: 'INTEGER' },
  { name: 'amount', type: 'DECIMAL(18,2)' },
  { name: 'item_count', type: 'BIGINT' },
  { name: 'source_lsn', type: 'HUGEINT' },
  { name: 'event_seq', type: 'BIGINT' },
  { name: 'status_rank', type: 'INTEGER' },
  { name: 'avg_order_value', type: 'DOUBLE' },
  { name: 'basket_avg', type: 'DOUBLE' },
  { name: 'payment_rate', type: 'DOUBLE' },
  { name: 'status', type: 'VARCHAR' },
];
const names = (list: readonly { name: string }[]): string[] => list.map((c) => c.name);

describe('measureColumns', () => {
  it('by default: numeric columns outside the key and the partition, not named as ids, LSNs, sequences, ranks or averages', () => {
    expect(names(measureColumns(columns, { partitionColumn: 'day_number', keys: ['payment_id'] }))).toEqual(['amount', 'item_count', 'payment_rate']);
    expect(names(measureColumns(columns, { partitionColumn: undefined, keys: ['item_count'] }))).toEqual(['day_number', 'amount', 'payment_rate']);
  });

  it('measures: overrides the default, in its order, even for a column the default leaves out; [] means none', () => {
    expect(names(measureColumns(columns, { partitionColumn: 'paid_date', keys: ['payment_id'], measures: ['item_count', 'amount'] }))).toEqual(['item_count', 'amount']);
    expect(names(measureColumns(columns, { partitionColumn: undefined, keys: [], measures: ['status_rank'] }))).toEqual(['status_rank']);
    expect(measureColumns(columns, { partitionColumn: 'paid_date', keys: [], measures: [] })).toEqual([]);
  });

  it('a listed column that is missing or not numeric is a config error naming it', () => {
    const call = (): unknown => measureColumns(columns, { partitionColumn: undefined, keys: [], measures: ['amount', 'status', 'revenue'] });
    expect(call).toThrow(LakeloopError);
    expect(call).toThrow(/^measures: status, revenue are not numeric columns of the model's output \(numeric columns: customer_id, day_number, amount,/);
  });
});
