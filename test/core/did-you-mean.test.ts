import { describe, expect, it } from 'vitest';
import { didYouMean, suggest } from '../../src/core/index.js';

describe('suggest', () => {
  it('finds typos within two edits, best first', () => {
    expect(suggest('partiton_by', ['partition_by', 'unique_key', 'kind'])).toEqual(['partition_by']);
    expect(suggest('silver.orderz', ['gold.daily_revenue', 'silver.orders', 'silver.order_items'])).toEqual(['silver.orders']);
    expect(suggest('ordres', ['orders', 'payments'])).toEqual(['orders']);
  });

  it('finds names sharing a prefix of three or more characters', () => {
    expect(suggest('pay', ['payments', 'orders'])).toEqual(['payments']);
    expect(suggest('or', ['orders'])).toEqual([]);
  });

  it('suggests nothing for unrelated names, nor the name itself', () => {
    expect(suggest('customers', ['orders', 'payments'])).toEqual([]);
    expect(suggest('orders', ['orders'])).toEqual([]);
    expect(suggest('abc', ['xyz'])).toEqual([]);
  });

  it('didYouMean phrases one or several', () => {
    expect(didYouMean('ordrs', ['orders'])).toBe('did you mean orders?');
    expect(didYouMean('ab12', ['ab13', 'ab14'])).toBe('did you mean ab13 or ab14?');
    expect(didYouMean('zzz', ['orders'])).toBeUndefined();
  });
});
