import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { validateConfig } from '../../src/config/index.js';
import { Engine } from '../../src/engine/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { LAKELOOP_ENTRY, writeProject } from '../helpers/project.js';
import { day, SALES_PROJECT, salesOfDay } from '../fixtures/sales-project.js';

/**
 * Memory and threads per circuit (`budgets.circuits`, issue 15): validated with clear
 * messages; the reconcile circuit runs with them (its report carries the limits DuckDB
 * reports through `current_setting`), and `--threads` / `--memory-limit` win over them.
 * (serve's streaming and collector circuits: test/server/serve-slo-budget.test.ts reads them from /status.)
 */
let dir: string;
let project: string;
let lake: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('circuit-budgets'));
  project = await writeProject(join(dir, 'project'), {
    ...SALES_PROJECT,
    'lakeloop.config.ts': [`import { defineConfig } from ${LAKELOOP_ENTRY};`, "export default defineConfig({ budgets: { circuits: { reconcile: { threads: 2, memoryLimit: '300MB' } } } });"].join('\n'),
  });
  lake = join(dir, 'lake');
  const file = join(dir, 'day1.ndjson');
  await writeFile(file, `${salesOfDay(1, 1000).map((s) => JSON.stringify(s)).join('\n')}\n`);
  expect((await cli(['--lake', lake, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
  expect((await cli(['--lake', lake, 'run'], project)).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await remove?.();
});

/** What DuckDB reports for a memory_limit setting (it renders sizes in binary units). */
async function rendered(memoryLimit: string): Promise<string> {
  const engine = await Engine.create({ threads: 1, memoryLimit });
  try {
    return String(await engine.scalar("SELECT current_setting('memory_limit')"));
  } finally {
    await engine.close();
  }
}

describe('budgets.circuits', () => {
  it('parses threads and memory limits per circuit; names bad values and unknown keys', () => {
    const config = validateConfig({ budgets: { circuits: { streaming: { threads: 2, memoryLimit: '2GB' }, reconcile: { memoryLimit: '512MiB' } } } }, 'f', '/repo');
    expect(config.budgets.circuits).toEqual({ streaming: { threads: 2, memoryLimit: '2GB' }, reconcile: { memoryLimit: '512MiB' } });
    expect(validateConfig({ budgets: { circuits: { collector: { threads: 2 } } } }, 'f', '/repo').budgets.circuits.collector).toEqual({ threads: 2 });
    const issues = (value: unknown): string => {
      try {
        validateConfig(value, 'lakeloop.config.ts', '/repo');
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`).join('\n');
      }
      throw new Error('expected a ConfigError');
    };
    expect(issues({ budgets: { circuits: { streaming: { threads: 0 } } } })).toContain('budgets.circuits.streaming.threads: expected a whole number of threads, 1 or more');
    expect(issues({ budgets: { circuits: { reconcile: { memoryLimit: 'lots' } } } })).toContain("budgets.circuits.reconcile.memoryLimit: expected a size such as '2GB' or '512MiB'");
    expect(issues({ budgets: { circuits: { reconcile: { memoryLimt: '1GB' } } } })).toMatch(/did you mean 'memoryLimit'.*expected one of: threads, memoryLimit/);
    expect(issues({ budgets: { circuits: { collector: { threads: 1.5 } } } })).toContain('budgets.circuits.collector.threads: expected a whole number of threads, 1 or more');
    expect(issues({ budgets: { circuits: { batch: {} } } })).toContain('expected one of: streaming, reconcile, collector');
  });

  it("the reconcile circuit runs with budgets.circuits.reconcile (as DuckDB reports it in the report); the flags win", async () => {
    const fromConfig = await cli(['--lake', lake, 'reconcile', '--from', day(1), '--to', day(1), '--json'], project);
    expect(fromConfig.code, fromConfig.stderr).toBe(0);
    const report = JSON.parse(fromConfig.stdout.trim().split('\n').at(-1) as string) as { circuit: { threads: number; memoryLimit: string } };
    expect(report.circuit).toEqual({ threads: 2, memoryLimit: await rendered('300MB') });

    const flags = await cli(['--lake', lake, 'reconcile', '--from', day(1), '--to', day(1), '--json', '--threads', '1', '--memory-limit', '200MB'], project);
    expect(flags.code, flags.stderr).toBe(0);
    const flagged = JSON.parse(flags.stdout.trim().split('\n').at(-1) as string) as { circuit: { threads: number; memoryLimit: string } };
    expect(flagged.circuit).toEqual({ threads: 1, memoryLimit: await rendered('200MB') });
    expect(await rendered('200MB')).not.toBe(await rendered('300MB'));
  }, 120_000);
});
