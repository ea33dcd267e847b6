import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddableSql } from '../../src/models/index.js';
import { tempDir } from '../cli/cli-harness.js';
import { writeProject } from '../helpers/project.js';
import { GOLD, oracle, SALES_PROJECT, SILVER } from '../fixtures/sales-project.js';
import { SalesLake, salesOn } from './sales-lake.js';

/**
 * A model's SQL is embedded in lakeloop's own (a subquery, a CREATE TABLE AS): whatever
 * its author ended it with — a `-- comment`, semicolons with comments around them — or
 * began it with (a CTE), run, reconcile and replay work, and gold equals the oracle.
 */
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('sql-endings'));
});

afterAll(async () => remove?.());

describe('embeddableSql', () => {
  it('drops trailing semicolons (with comments and blank lines around them) and ends with a newline', () => {
    expect(embeddableSql('SELECT 1 -- the end')).toBe('SELECT 1 -- the end\n');
    expect(embeddableSql('SELECT 1;')).toBe('SELECT 1\n');
    expect(embeddableSql('SELECT 1 ; ;\n-- done;\n  ;  /* c; */\n')).toBe('SELECT 1    \n-- done;\n     /* c; */\n');
  });

  it('leaves semicolons and dashes inside strings, quoted names and comments alone', () => {
    expect(embeddableSql("SELECT ';' AS \"a;b\", '--' AS c")).toBe("SELECT ';' AS \"a;b\", '--' AS c\n");
    expect(embeddableSql("SELECT 'it''s;' AS s;")).toBe("SELECT 'it''s;' AS s\n");
    expect(embeddableSql('SELECT 1 /* ; */')).toBe('SELECT 1 /* ; */\n');
    expect(`(${embeddableSql('SELECT 1 -- x')})`).toBe('(SELECT 1 -- x\n)');
  });
});

const CTE_GOLD = GOLD.replace(
  'SELECT sale_date, store, round(sum(amount), 2) AS revenue, count(*) AS sales\nFROM silver.sales\nGROUP BY sale_date, store\n',
  'WITH s AS (SELECT sale_date, store, amount FROM silver.sales)\nSELECT sale_date, store, round(sum(amount), 2) AS revenue, count(*) AS sales\nFROM s\nGROUP BY sale_date, store\n',
);

const VARIANTS: Record<string, { silver: string; gold: string }> = {
  'a trailing -- comment': { silver: `${SILVER.trimEnd()} -- the latest event per id`, gold: `${GOLD.trimEnd()}\n-- revenue per day and store` },
  'trailing semicolons and comments': { silver: `${SILVER.trimEnd()};`, gold: `${GOLD.trimEnd()} ;\n;  -- done; really\n/* end */\n` },
  'a leading CTE': { silver: SILVER, gold: `${CTE_GOLD.trimEnd()}; -- with a CTE` },
};

describe.each(Object.entries(VARIANTS))('a model ending with %s', (name, models) => {
  it('runs, reconciles a late row and replays; gold equals the oracle', async () => {
    expect(CTE_GOLD).not.toBe(GOLD);
    const slug = name.replace(/[^a-z]+/g, '-');
    const project = await writeProject(join(dir, slug), { ...SALES_PROJECT, 'sql/silver/sales.sql': models.silver, 'sql/gold/daily.sql': models.gold });
    const sales = new SalesLake(project, join(dir, `${slug}-lake`), dir);
    await sales.ingest(salesOn('2026-03-01', 1000));
    await sales.run();
    await sales.ingest(salesOn('2026-03-03', 3000));
    await sales.run();
    await sales.ingest([{ id: 5000, store: 'west', amount: 42, status: 'placed', ts: '2026-03-01T12:00:00Z' }]);
    await sales.run();
    expect(await sales.gold()).not.toEqual(oracle(sales.sent));
    const reconciled = await sales.cli(['reconcile', '--from', '2026-03-01', '--to', '2026-03-03']);
    expect(reconciled.code, reconciled.stdout + reconciled.stderr).toBe(0);
    expect(await sales.gold()).toEqual(oracle(sales.sent));
    const replayed = await sales.cli(['replay', '--from', '2026-03-01', '--to', '2026-03-03', '--models', 'silver.sales']);
    expect(replayed.code, replayed.stdout + replayed.stderr).toBe(0);
    expect(await sales.gold()).toEqual(oracle(sales.sent));
    const full = await sales.cli(['run', '--full-refresh']);
    expect(full.code, full.stdout + full.stderr).toBe(0);
    expect(await sales.gold()).toEqual(oracle(sales.sent));
  }, 120_000);
});
