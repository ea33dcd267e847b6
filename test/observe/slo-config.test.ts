import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/core/index.js';
import { parseModelFile } from '../../src/models/index.js';
import { evaluateCompleteness, type PartitionStatus, type TablePartitionStatus } from '../../src/state/index.js';

/**
 * The new SLO and alert settings are validated with clear messages: `alerts.divergenceSeconds`
 * in the config, `completeness:` in a model header; and the completeness rule itself over a
 * partition status (which partitions are old enough to have to be exact).
 */
describe('alerts.divergenceSeconds', () => {
  it('is a positive number of seconds; a typo is named', () => {
    expect(validateConfig({ alerts: { divergenceSeconds: 30 } }, '/p/lakeloop.config.ts', '/p').alerts.divergenceSeconds).toBe(30);
    expect(validateConfig({}, undefined, '/p').alerts.divergenceSeconds).toBeUndefined();
    expect(() => validateConfig({ alerts: { divergenceSeconds: 0 } }, '/p/lakeloop.config.ts', '/p')).toThrow(/alerts\.divergenceSeconds.*expected a positive number of seconds/);
    expect(() => validateConfig({ alerts: { divergenceSeconds: '10s' } }, '/p/lakeloop.config.ts', '/p')).toThrow(/expected a number of seconds/);
    expect(() => validateConfig({ alerts: { divergenceSecond: 10 } }, '/p/lakeloop.config.ts', '/p')).toThrow(/did you mean 'divergenceSeconds'/);
  });
});

describe('completeness: in a model header', () => {
  const model = (header: string): ReturnType<typeof parseModelFile> => parseModelFile('sql/gold/daily.sql', `/*\nkind: incremental_by_partition\npartition_by: d\n${header}\n*/\nSELECT 1 AS d\n`);

  it('parses max_pending_late_rows and exact_after', () => {
    expect(model('completeness:\n  max_pending_late_rows: 10\n  exact_after: 2d').header.completeness).toEqual({ maxPendingLateRows: 10, exactAfter: '2d', exactAfterMs: 172_800_000 });
    expect(model('completeness: { exact_after: 36h }').header.completeness).toEqual({ maxPendingLateRows: undefined, exactAfter: '36h', exactAfterMs: 129_600_000 });
    expect(model('').header.completeness).toBeUndefined();
  });

  it('refuses an empty objective, unknown keys, negative rows and bad durations with the file and key', () => {
    const problem = (header: string): string => {
      try {
        model(header);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('no error');
    };
    expect(problem('completeness: {}')).toMatch(/sql\/gold\/daily\.sql.*completeness needs max_pending_late_rows and\/or exact_after/s);
    expect(problem('completeness: { max_late: 3 }')).toMatch(/unknown completeness key\(s\) max_late; expected max_pending_late_rows, exact_after/);
    expect(problem('completeness: { max_pending_late_rows: -1 }')).toMatch(/completeness\.max_pending_late_rows.*expected a number of rows/s);
    expect(problem('completeness: { exact_after: soon }')).toMatch(/completeness\.exact_after.*expected a duration/s);
  });
});

describe('evaluateCompleteness', () => {
  const partition = (day: string, status: PartitionStatus['status'], pendingLateRows = 0): PartitionStatus => ({
    partition: day,
    status,
    statuses: [status],
    pendingLateRows,
    maxLatenessSeconds: null,
    version: 1,
    mode: 'stream',
    fingerprint: null,
    lastExactVersion: null,
  });
  const table = (partitions: PartitionStatus[]): TablePartitionStatus => ({ table: 'gold.daily', version: 3, pendingChange: null, staleFrom: [], partitions });

  it('counts the partitions more than exact_after before the newest that are not exact, and the pending late rows', () => {
    const status = table([partition('2026-03-01', 'exact'), partition('2026-03-02', 'held', 2), partition('2026-03-03', 'provisional'), partition('2026-03-04', 'provisional'), partition('2026-03-05', 'provisional')]);
    const result = evaluateCompleteness(status, { maxPendingLateRows: 5, exactAfter: '2d', exactAfterMs: 172_800_000 });
    expect(result).toMatchObject({ met: false, pendingLateRows: 2, notExact: ['2026-03-02'], exactShare: 0.2 });
    expect(result.message).toBe('1 partition(s) older than 2d not exact: 2026-03-02; lakeloop reconcile publishes them');
    expect(evaluateCompleteness(status, { maxPendingLateRows: 1, exactAfter: undefined, exactAfterMs: undefined })).toMatchObject({ met: false, notExact: [] });
    expect(evaluateCompleteness(status, { maxPendingLateRows: 2, exactAfter: '4d', exactAfterMs: 345_600_000 })).toMatchObject({ met: true, message: 'complete: 2 late rows pending, every partition older than 4d exact' });
  });
});
