import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeProject } from '../helpers/project.js';
import { CONTRACT, GOLD, salesOfDay, SILVER } from '../fixtures/sales-project.js';
import { cli, tempDir } from './cli-harness.js';

/**
 * Selectors on the CLI, on the sales project with domains: bronze.sales (contract, sales) →
 * silver.sales (sales) → gold.daily (sales) and gold.store_campaigns (marketing, reads
 * silver.sales: a cross-domain edge). One lake, built once.
 */
const withHeader = (sql: string, lines: string): string => sql.replace('/*\n', `/*\n${lines}\n`);
const CAMPAIGNS = `/*
kind: full
owner: growth
domain: marketing
*/
SELECT store, count(*) AS sales FROM silver.sales GROUP BY store
`;

let dir: string;
let remove: () => Promise<void>;
let project: string;
let lake: string;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-select'));
  project = await writeProject(join(dir, 'project'), {
    'contracts/sales.ts': CONTRACT.replace("owner: 'test',", "owner: 'test', domain: 'sales',"),
    'sql/silver/sales.sql': withHeader(SILVER, 'owner: checkout\ndomain: sales'),
    'sql/gold/daily.sql': withHeader(GOLD, 'owner: finance\ndomain: sales'),
    'sql/gold/store_campaigns.sql': CAMPAIGNS,
  });
  lake = join(dir, 'lake');
  const file = join(dir, 'sales.ndjson');
  await writeFile(file, `${[...salesOfDay(1, 1000), ...salesOfDay(2, 2000)].map((s) => JSON.stringify(s)).join('\n')}\n`);
  const ingest = await cli(['--lake', lake, 'ingest', 'sales', '--file', file], project);
  expect(ingest.code, ingest.stderr).toBe(0);
  const run = await cli(['--lake', lake, 'run'], project);
  expect(run.code, run.stderr).toBe(0);
}, 120_000);
afterAll(async () => remove());

async function versionOf(table: string): Promise<number> {
  const names = await readdir(join(lake, ...table.split('.'), '_delta_log'));
  return Math.max(...names.filter((f) => f.endsWith('.json')).map((f) => Number(f.slice(0, 20))));
}

async function ran(args: string[]): Promise<string[]> {
  const run = await cli(['--lake', lake, 'run', '--json', ...args], project);
  expect(run.code, run.stderr).toBe(0);
  return run.json<{ models: { model: string }[] }>().models.map((m) => m.model);
}

describe('lakeloop run with selectors', () => {
  it('run --full-refresh gold.x rebuilds gold.x only: its upstream tables keep their versions', async () => {
    const before = { silver: await versionOf('silver.sales'), daily: await versionOf('gold.daily'), bronze: await versionOf('bronze.sales') };
    const run = await cli(['--lake', lake, 'run', 'gold.daily', '--full-refresh', '--json'], project);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json<{ models: { model: string; mode: string }[] }>().models.map((m) => [m.model, m.mode])).toEqual([['gold.daily', 'full']]);
    expect(await versionOf('silver.sales')).toBe(before.silver);
    expect(await versionOf('bronze.sales')).toBe(before.bronze);
    expect(await versionOf('gold.daily')).toBe(before.daily + 1);
  }, 60_000);

  it.each<[string[], string[]]>([
    [['gold.daily'], ['gold.daily']],
    [['+gold.daily'], ['silver.sales', 'gold.daily']],
    [['silver.sales+'], ['silver.sales', 'gold.daily', 'gold.store_campaigns']],
    [['gold.*'], ['gold.daily', 'gold.store_campaigns']],
    [['owner:growth'], ['gold.store_campaigns']],
    [['domain:sales'], ['silver.sales', 'gold.daily']],
    [['silver.sales+', '--exclude', 'domain:marketing'], ['silver.sales', 'gold.daily']],
  ])('run %j runs exactly %j', async (args, expected) => {
    expect(await ran(args)).toEqual(expected);
  }, 60_000);

  it('an unknown selector is a usage error (exit 2) that suggests the near miss; nothing runs', async () => {
    const before = await versionOf('gold.daily');
    const typo = await cli(['--lake', lake, 'run', 'gold.dayly', '--full-refresh'], project);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('Unknown model gold.dayly: did you mean gold.daily?');
    const owner = await cli(['--lake', lake, 'run', 'owner:finanse'], project);
    expect(owner.code).toBe(2);
    expect(owner.stderr).toContain('No model matches owner:finanse: did you mean owner:finance?');
    const excluded = await cli(['--lake', lake, 'run', 'gold.daily', '--exclude', 'gold.*'], project);
    expect(excluded.code).toBe(2);
    expect(excluded.stderr).toContain('No models selected');
    expect(await versionOf('gold.daily')).toBe(before);
  }, 60_000);

  it('a selected model whose upstream model has no table yet is a usage error pointing at +name', async () => {
    const fresh = await cli(['--lake', join(dir, 'fresh-lake'), 'run', 'gold.daily'], project);
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toContain('Not built yet: gold.daily reads silver.sales');
    expect(fresh.stderr).toContain('lakeloop run +gold.daily');
  }, 60_000);
});

describe('selectors on the other verbs', () => {
  it('test, plan, reconcile take them (reconcile adds what is downstream, then excludes)', async () => {
    const test = await cli(['--lake', lake, 'test', '--json', 'domain:sales', '--exclude', 'gold.*'], project);
    expect(test.code, test.stderr).toBe(0);
    expect([...new Set(test.json<{ tests: { model: string }[] }>().tests.map((t) => t.model))]).toEqual(['silver.sales']);
    const plan = await cli(['--lake', lake, 'plan', '--json', 'silver.*'], project);
    expect(plan.code, plan.stderr).toBe(0);
    const dry = await cli(['--lake', lake, 'reconcile', '--from', '2026-03-01', '--to', '2026-03-02', '--dry-run', '--json', '--priority', 'normal', '--models', 'silver.sales', '--exclude', 'domain:marketing'], project);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json<{ models: { model: string }[] }>().models.map((m) => m.model)).toEqual(['silver.sales', 'gold.daily']);
    const typo = await cli(['--lake', lake, 'replay', '--from', '2026-03-01', '--to', '2026-03-02', '--models', 'silver.sale'], project);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean silver.sales?');
  }, 120_000);
});

describe('lakeloop lineage with domains', () => {
  it('text: a section per domain, the cross-domain edge marked', async () => {
    const run = await cli(['--lake', lake, 'lineage'], project);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(
      [
        'domain marketing:',
        '  silver.sales (sales) -> gold.store_campaigns (marketing)  [cross-domain]',
        'domain sales:',
        '  source:sales -> bronze.sales',
        '  bronze.sales -> silver.sales',
        '  silver.sales -> gold.daily',
        '',
      ].join('\n'),
    );
  });

  it('json: nodes carry their domain, the edge crossDomain; selectors narrow the graph', async () => {
    const run = await cli(['--lake', lake, 'lineage', '--format', 'json', 'domain:marketing'], project);
    expect(run.code, run.stderr).toBe(0);
    const graph = run.json<{ nodes: { id: string; kind: string; domain?: string }[]; edges: { from: string; to: string; crossDomain?: boolean }[] }>();
    expect(graph.edges).toEqual([{ from: 'silver.sales', to: 'gold.store_campaigns', crossDomain: true }]);
    expect(graph.nodes).toEqual([
      { id: 'silver.sales', kind: 'model', domain: 'sales' },
      { id: 'gold.store_campaigns', kind: 'model', domain: 'marketing' },
    ]);
    const mermaid = await cli(['--lake', lake, 'lineage', '--format', 'mermaid'], project);
    expect(mermaid.stdout).toContain('  subgraph domain_marketing["marketing"]');
    expect(mermaid.stdout).toContain('  silver_sales -.-> gold_store_campaigns');
  });

  it('status lists each domain with its owners, sources and models', async () => {
    const run = await cli(['--lake', lake, 'status', '--json'], project);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json<{ domains: unknown[] }>().domains).toEqual([
      { domain: 'marketing', owners: ['growth'], sources: [], models: ['gold.store_campaigns'] },
      { domain: 'sales', owners: ['checkout', 'finance', 'test'], sources: ['sales'], models: ['gold.daily', 'silver.sales'] },
    ]);
    const human = await cli(['--lake', lake, 'status'], project);
    expect(human.stdout).toMatch(/^domains:$/m);
    expect(human.stdout).toMatch(/^ {2}marketing +growth +- +gold\.store_campaigns$/m);
  });
});
