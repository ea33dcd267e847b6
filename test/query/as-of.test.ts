import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/index.js';
import { describeAsOf, parseAsOf } from '../../src/query/index.js';

describe('parseAsOf', () => {
  it('reads whole numbers as versions', () => {
    expect(parseAsOf('0')).toEqual({ version: 0 });
    expect(parseAsOf(' 12 ')).toEqual({ version: 12 });
  });

  it('reads ISO dates and timestamps, UTC unless an offset is given', () => {
    expect(parseAsOf('2024-05-01')).toEqual({ timestampMs: Date.parse('2024-05-01T00:00:00Z') });
    expect(parseAsOf('2024-05-01T12:30:00Z')).toEqual({ timestampMs: Date.parse('2024-05-01T12:30:00Z') });
    expect(parseAsOf('2024-05-01T12:30')).toEqual({ timestampMs: Date.parse('2024-05-01T12:30:00Z') });
    expect(parseAsOf('2024-05-01 12:30:00.250')).toEqual({ timestampMs: Date.parse('2024-05-01T12:30:00.250Z') });
    expect(parseAsOf('2024-05-01T14:30:00+02:00')).toEqual({ timestampMs: Date.parse('2024-05-01T12:30:00Z') });
    expect(parseAsOf('2024-05-01T14:30:00+0200')).toEqual({ timestampMs: Date.parse('2024-05-01T12:30:00Z') });
  });

  it('refuses anything else as a usage error with examples', () => {
    for (const bad of ['', 'yesterday', '-1', '1.5', '2024-13-45', '2024-05-01T25:00:00Z']) {
      expect(() => parseAsOf(bad), bad).toThrow(UsageError);
    }
    expect(() => parseAsOf('yesterday')).toThrow(/--as-of expects a table version or an ISO timestamp, got "yesterday"/);
  });

  it('describes itself for messages', () => {
    expect(describeAsOf({ version: 3 })).toBe('version 3');
    expect(describeAsOf({ timestampMs: 0 })).toBe('1970-01-01T00:00:00.000Z');
  });
});
