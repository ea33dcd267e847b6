import { describe, expect, it } from 'vitest';
import { batchVerbPriority, parsePriority } from '../../src/cli/priority.js';
import { spawnTs } from '../helpers/child.js';

describe('CPU priority of batch verbs', () => {
  it('reconcile and replay run idle unless --priority says otherwise; other verbs are left alone', () => {
    expect(batchVerbPriority(['reconcile'])).toBe('idle');
    expect(batchVerbPriority(['--lake', 'lake', 'replay', '--from', '2026-01-01', '--to', '2026-01-02'])).toBe('idle');
    expect(batchVerbPriority(['--config', 'x.ts', '-v', 'reconcile', '--priority', 'normal'])).toBe('normal');
    expect(batchVerbPriority(['reconcile', '--priority=normal'])).toBe('normal');
    expect(batchVerbPriority(['reconcile', '--priority', 'low'])).toBe('low');
    // A lake folder named like a verb is not the verb.
    expect(batchVerbPriority(['--lake', 'reconcile', 'query', 'SELECT 1'])).toBeUndefined();
    expect(batchVerbPriority(['serve'])).toBeUndefined();
    expect(batchVerbPriority([])).toBeUndefined();
  });

  it('--priority takes idle, low or normal', () => {
    expect(parsePriority(undefined)).toBe('idle');
    expect(parsePriority('low')).toBe('low');
    expect(parsePriority('normal')).toBe('normal');
    expect(() => parsePriority('urgent')).toThrow('--priority expects idle, low or normal, got "urgent"');
    // Before the CLI loads, an unknown value changes nothing (the CLI then refuses it).
    expect(batchVerbPriority(['reconcile', '--priority', 'urgent'])).toBe('normal');
  });
});

describe.runIf(process.platform === 'linux')('applyCpuPriority in a real process (Linux)', () => {
  it('idle puts every thread, DuckDB\'s workers included, in SCHED_IDLE; low sets nice 10', async () => {
    const idle = spawnTs('test/fixtures/priority-child.ts', ['idle']);
    expect(await idle.exited, idle.stderr()).toBe(0);
    expect(JSON.parse(idle.lines.at(-1) ?? '{}')).toMatchObject({ said: 'idle CPU priority (SCHED_IDLE)', policies: [5] });
    const low = spawnTs('test/fixtures/priority-child.ts', ['low']);
    expect(await low.exited, low.stderr()).toBe(0);
    expect(JSON.parse(low.lines.at(-1) ?? '{}')).toMatchObject({ said: 'low CPU priority (nice 10)', policies: [0], nice: 10 });
  }, 60_000);
});
