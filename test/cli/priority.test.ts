import { describe, expect, it } from 'vitest';
import { batchVerbPriority, parsePriority } from '../../src/cli/priority.js';

describe('CPU priority of batch verbs', () => {
  it('reconcile and replay run low unless --priority normal; other verbs are left alone', () => {
    expect(batchVerbPriority(['reconcile'])).toBe('low');
    expect(batchVerbPriority(['--lake', 'lake', 'replay', '--from', '2026-01-01', '--to', '2026-01-02'])).toBe('low');
    expect(batchVerbPriority(['--config', 'x.ts', '-v', 'reconcile', '--priority', 'normal'])).toBe('normal');
    expect(batchVerbPriority(['reconcile', '--priority=normal'])).toBe('normal');
    expect(batchVerbPriority(['reconcile', '--priority', 'low'])).toBe('low');
    // A lake folder named like a verb is not the verb.
    expect(batchVerbPriority(['--lake', 'reconcile', 'query', 'SELECT 1'])).toBeUndefined();
    expect(batchVerbPriority(['serve'])).toBeUndefined();
    expect(batchVerbPriority([])).toBeUndefined();
  });

  it('--priority takes low or normal', () => {
    expect(parsePriority(undefined)).toBe('low');
    expect(parsePriority('normal')).toBe('normal');
    expect(() => parsePriority('urgent')).toThrow('--priority expects low or normal, got "urgent"');
  });
});
