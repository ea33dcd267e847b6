import { describe, expect, it } from 'vitest';
import { formatCsv, formatJson, formatTable, type ResultTable } from '../../src/cli/format-result.js';
import { BufferSink } from '../../src/cli/io.js';
import { Progress } from '../../src/cli/progress.js';

const result: ResultTable = {
  columns: [
    { name: 'id', type: 'BIGINT' },
    { name: 'name', type: 'VARCHAR' },
    { name: 'price', type: 'DECIMAL(38,6)' },
    { name: 'tags', type: 'BIGINT[]' },
    { name: 'meta', type: 'STRUCT(k INTEGER)' },
    { name: 'wait', type: 'INTERVAL' },
  ],
  rows: [
    ['1', 'plain', '1.500000', ['1', '2'], { k: 1 }, { months: 14, days: 3, micros: '3723000000' }],
    ['-9007199254740993', '', '123456789012.123456', [], null, { months: 0, days: 0, micros: '0' }],
    [null, 'x'.repeat(100), null, null, { k: 2 }, null],
  ],
};

describe('formatTable', () => {
  it('aligns, right-aligns numbers, shows NULL, cuts long cells and counts rows', () => {
    const lines = formatTable(result, { maxCellWidth: 20 }).split('\n');
    expect(lines).toEqual([
      '               id  name                                price  tags   meta     wait',
      '-----------------  --------------------  -------------------  -----  -------  --------------------',
      '                1  plain                            1.500000  [1,2]  {"k":1}  1 year 2 months 3 d…',
      '-9007199254740993                        123456789012.123456  []     NULL     00:00:00',
      `             NULL  ${'x'.repeat(19)}…                 NULL  NULL   {"k":2}  NULL`,
      '(3 rows)',
      '',
    ]);
  });

  it('prints the header and (0 rows) for an empty result', () => {
    expect(formatTable({ columns: [{ name: 'n', type: 'BIGINT' }], rows: [] })).toBe('n\n-\n(0 rows)\n');
  });
});

describe('formatCsv', () => {
  it('leaves NULL empty, quotes the empty string, and writes nested values as JSON', () => {
    const lines = formatCsv(result).split('\n');
    expect(lines[0]).toBe('id,name,price,tags,meta,wait');
    expect(lines[1]).toBe('1,plain,1.500000,"[1,2]","{""k"":1}",1 year 2 months 3 days 01:02:03');
    expect(lines[2]).toBe('-9007199254740993,"",123456789012.123456,[],,00:00:00');
  });
});

describe('formatJson', () => {
  it('turns safe integers and short decimals into numbers, keeps the rest as text, dedupes names', () => {
    const parsed = JSON.parse(formatJson(result)) as Record<string, unknown>[];
    expect(parsed[0]).toMatchObject({ id: 1, price: 1.5, tags: [1, 2], meta: { k: 1 } });
    expect(parsed[1]).toMatchObject({ id: '-9007199254740993', name: '', price: '123456789012.123456' });
    const dup = JSON.parse(formatJson({ columns: [{ name: 'a', type: 'INTEGER' }, { name: 'a', type: 'INTEGER' }], rows: [[1, 2]] }));
    expect(dup).toEqual([{ a: 1, a_2: 2 }]);
  });
});

describe('Progress', () => {
  it('draws nothing when stderr is not a TTY', async () => {
    const sink = new BufferSink();
    await Progress.around(sink, 'work', async () => new Promise((r) => setTimeout(r, 30)));
    expect(sink.text()).toBe('');
  });

  it('draws a line on a TTY after its delay and erases it when done', async () => {
    const sink = new BufferSink({ isTTY: true });
    const progress = Progress.start(sink, 'ingesting', { delayMs: 0, intervalMs: 5 });
    progress.update('12 rows');
    await new Promise((r) => setTimeout(r, 40));
    progress.stop();
    expect(sink.text()).toContain('ingesting 12 rows');
    expect(sink.text().endsWith('\r\x1b[2K')).toBe(true);
  });
});
