import type { AddAction } from './actions.js';

/**
 * Per-file column statistics, the JSON inside `add.stats`: planners prune files with them
 * without opening the files. Values are JSON (numbers, strings; dates `YYYY-MM-DD`,
 * timestamps ISO-8601 UTC with milliseconds).
 *
 * @example
 * { numRecords: 3, minValues: { id: 1 }, maxValues: { id: 9 }, nullCount: { id: 0 } }
 */
export interface FileStats {
  readonly numRecords: number;
  readonly minValues: Readonly<Record<string, unknown>>;
  readonly maxValues: Readonly<Record<string, unknown>>;
  readonly nullCount: Readonly<Record<string, unknown>>;
}

/** The parsed stats of an add action, or null when it has none (or they do not parse). */
export function parseStats(add: Pick<AddAction, 'stats'>): FileStats | null {
  if (typeof add.stats !== 'string' || add.stats === '') return null;
  try {
    const raw = JSON.parse(add.stats) as Partial<Record<keyof FileStats, unknown>>;
    if (typeof raw.numRecords !== 'number') return null;
    return {
      numRecords: raw.numRecords,
      minValues: objectOrEmpty(raw.minValues),
      maxValues: objectOrEmpty(raw.maxValues),
      nullCount: objectOrEmpty(raw.nullCount),
    };
  } catch {
    return null;
  }
}

function objectOrEmpty(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
