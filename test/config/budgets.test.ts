import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { formatSize, parseSizeBytes, validateConfig } from '../../src/config/index.js';

function issuesOf(value: unknown): string[] {
  try {
    validateConfig(value, 'lakeloop.config.ts', '/repo');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('budgets in lakeloop.config.ts', () => {
  it('parses sizes to bytes (decimal units as DuckDB reads them, binary ones with an i) and defaults the mode to refuse', () => {
    const config = validateConfig({ budgets: { maxBytesScannedPerRun: '10GB', storageQuota: { bronze: '100GB', gold: '512MiB', silver: 2048 } } }, 'f', '/repo');
    expect(config.budgets).toEqual({ maxBytesScannedPerRun: 10e9, mode: 'refuse', storageQuota: { bronze: 100e9, silver: 2048, gold: 512 * 2 ** 20 }, circuits: { streaming: {}, reconcile: {} } });
  });

  it('is empty when not given', () => {
    expect(validateConfig({}, undefined, '/repo').budgets).toEqual({ mode: 'refuse', storageQuota: {}, circuits: { streaming: {}, reconcile: {} } });
  });

  it('names a bad size, a bad mode and an unknown key with the keys it accepts', () => {
    const issues = issuesOf({ budgets: { maxBytesScannedPerRun: 'lots', mode: 'shout', storageQuota: { platinum: '1GB' } } });
    expect(issues).toContain(`budgets.maxBytesScannedPerRun: expected a size such as '10GB', '500MB' or '8MiB', or a number of bytes, got "lots"`);
    expect(issues.some((i) => i.startsWith("budgets.mode: expected 'warn' or 'refuse'"))).toBe(true);
    expect(issues.some((i) => i.includes("unknown key 'platinum'") && i.includes('expected one of: bronze, silver, gold'))).toBe(true);
    expect(issuesOf({ budgets: { maxBytesScanedPerRun: '1GB' } }).join('\n')).toContain("did you mean 'maxBytesScannedPerRun'");
  });

  it('parseSizeBytes and formatSize round-trip the units', () => {
    expect(parseSizeBytes('1.5KB')).toBe(1500);
    expect(parseSizeBytes('8 MiB')).toBe(8 * 2 ** 20);
    expect(parseSizeBytes('ten')).toBeUndefined();
    expect(formatSize(12_345_678_900)).toBe('12.3 GB');
    expect(formatSize(999)).toBe('999 B');
  });
});
