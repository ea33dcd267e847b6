import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/index.js';
import { modelVersionOf } from '../../src/models/index.js';
import type { Lake } from '../../src/table/index.js';
import { tempDir } from '../cli/cli-harness.js';
import { spawnTs, type TsChild } from '../helpers/child.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { GOLD, SALES_PROJECT, type Sale } from '../fixtures/sales-project.js';

/**
 * `serve` keeps landing and running while `lakeloop apply` rebuilds an edited model
 * (issue 14, SPEC §6 "Model versions"). Both are real processes on one lake; the apply is
 * frozen (SIGSTOP at `table.after-data-files`) after writing its rebuilt files and before
 * committing them, so the race is certain, not timed: meanwhile serve lands batches, its
 * unaffected models commit, and it commits the edited model's table with the published
 * (old) SQL. Then the apply resumes: its rebuild must win (superseding serve's commits), and
 * serve's next runs must run the applied SQL — never a table mixing both.
 */
const STORES = `/*
kind: incremental_by_partition
partition_by: sale_date
lateness: 2h
*/
SELECT sale_date, count(DISTINCT store) AS stores, max(amount) AS top
FROM silver.sales
GROUP BY sale_date
`;
const NEW_GOLD = GOLD.replace('count(*) AS sales', 'count(*) * 1000 AS sales');

let dir: string;
let project: string;
let lakeRoot: string;
let remove: () => Promise<void>;
let serve: TsChild;
let url: string;
let engine: Engine;
let lake: Lake;

const acknowledged: Sale[] = [];
let batches = 0;

/** Batch k: 20 sales 6 hours of event time after batch k-1 (a day every 4 batches), so nothing is ever late. */
function batch(k: number): Sale[] {
  const start = Date.UTC(2026, 2, 1) + k * 21_600_000;
  return Array.from({ length: 20 }, (_, i) => ({
    id: k * 100 + i,
    store: ['north', 'south', 'east'][i % 3] as string,
    amount: 10 + ((k * 7 + i) % 50) + 0.25,
    status: 'placed',
    ts: new Date(start + i * 1000).toISOString(),
  }));
}

async function postNext(): Promise<void> {
  const sales = batch(batches++);
  const response = await fetch(`${url}/ingest/sales`, { method: 'POST', body: `${sales.map((s) => JSON.stringify(s)).join('\n')}\n` });
  await response.arrayBuffer();
  if (response.status === 200) acknowledged.push(...sales);
}

/** Posts batch after batch until `stop()`; the posting never waits for the models. */
function keepPosting(): { stop(): Promise<void> } {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      await postNext();
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
    },
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; serve stderr:\n${serve.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function version(name: string): Promise<number> {
  const table = await lake.tableIfExists(name);
  return table ? (await table.snapshot()).version : -1;
}

async function stopped(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // pid (comm) STATE ...: the command name may hold spaces, the state follows its closing parenthesis.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
}

async function scanOf(name: string): Promise<string> {
  return (await (await lake.table(name)).snapshot()).scanSql(lake.store);
}

/** gold.daily as stored, and the new SQL computed from scratch over bronze's current files. */
async function goldAndOracle(): Promise<{ gold: string; oracle: string }> {
  const gold = await engine.all(`SELECT CAST(sale_date AS VARCHAR) AS d, store, revenue, sales FROM (${await scanOf('gold.daily')}) ORDER BY 1, 2`);
  const oracle = await engine.all(
    `WITH latest AS (
       SELECT * FROM (${await scanOf('bronze.sales')}) QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts DESC, _ingested_at DESC) = 1
     ), silver AS (
       SELECT store, amount, CAST(timezone('UTC', ts) AS DATE) AS sale_date FROM latest WHERE status <> 'cancelled'
     )
     SELECT CAST(sale_date AS VARCHAR) AS d, store, round(sum(amount), 2) AS revenue, count(*) * 1000 AS sales FROM silver GROUP BY ALL ORDER BY 1, 2`,
  );
  const text = (rows: Record<string, unknown>[]): string => JSON.stringify(rows.map((r) => [r['d'], r['store'], Number(r['revenue']), Number(r['sales'])]));
  return { gold: text(gold), oracle: text(oracle) };
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('serve-during-apply'));
  project = await writeProject(join(dir, 'project'), { ...SALES_PROJECT, 'sql/gold/stores.sql': STORES });
  lakeRoot = join(dir, 'lake');
  serve = spawnTs('bin/lakeloop.js', ['--lake', lakeRoot, 'serve', '--port', '0', '--poll-ms', '100'], {}, project);
  url = (await serve.waitForLine(/^listening on http:\/\//, 60_000)).replace('listening on ', '').trim();
  ({ engine, lake } = await openProjectLake(project, lakeRoot));
}, 90_000);

afterAll(async () => {
  if (serve && serve.process.exitCode === null) await serve.kill();
  await engine?.close();
  await remove?.();
});

describe('serve during apply', () => {
  it('lands and runs every model while apply rebuilds one; the rebuild wins and serve then runs the applied SQL', async () => {
    const posting = keepPosting();
    let apply: TsChild | undefined;
    let rebuiltAt = Number.MAX_SAFE_INTEGER;
    try {
      await until('serve built gold.daily and gold.stores', async () => (await version('gold.daily')) >= 1 && (await version('gold.stores')) >= 1);
      await writeFile(join(project, 'sql', 'gold', 'daily.sql'), NEW_GOLD);
      apply = spawnTs('bin/lakeloop.js', ['--lake', lakeRoot, 'apply', '--yes'], { LAKELOOP_STOPPOINTS: 'table.after-data-files' }, project);
      const pid = apply.process.pid as number;
      await until('apply has written its rebuilt files (stopped before its commit)', () => stopped(pid), 90_000);

      // apply is frozen mid-rebuild: serve goes on landing, and commits every model.
      const frozen = { silver: await version('silver.sales'), stores: await version('gold.stores'), daily: await version('gold.daily'), bronze: await version('bronze.sales') };
      await until('serve commits while apply is frozen', async () =>
        (await version('bronze.sales')) >= frozen.bronze + 3 &&
        (await version('silver.sales')) >= frozen.silver + 2 &&
        (await version('gold.stores')) >= frozen.stores + 2 &&
        // The changed model's table too, with the published (old) SQL: the race apply must win.
        (await version('gold.daily')) >= frozen.daily + 1,
      );
      const daily = await lake.table('gold.daily');
      const raced = (await daily.history({ limit: 100 })).filter((c) => c.version > frozen.daily);
      expect(raced.length).toBeGreaterThanOrEqual(1);
      expect(raced.every((c) => modelVersionOf(c.commitInfo)?.sql.includes('count(*) AS sales'))).toBe(true);

      process.kill(pid, 'SIGCONT');
      expect(await apply.exited, apply.stderr()).toBe(0);
      expect(apply.lines.join('\n')).toMatch(/applied gold\.daily/);

      // The rebuild landed after serve's commits and replaced them: the newest rebuild holds the new SQL.
      const history = await daily.history({ limit: 200 });
      const rebuild = history.find((c) => c.version > frozen.daily && (c.commitInfo['lakeloop'] as { mode?: string } | undefined)?.mode === 'full');
      expect(rebuild, 'the rebuild committed').toBeDefined();
      expect(modelVersionOf(rebuild?.commitInfo)?.sql).toContain('count(*) * 1000 AS sales');
      expect(rebuild?.version).toBeGreaterThan(Math.max(...raced.map((c) => c.version)));
      rebuiltAt = rebuild?.version ?? Number.MAX_SAFE_INTEGER;

      // More batches after the apply, then serve catches up: gold.daily is the new SQL over bronze, from scratch.
      const after = batches;
      await until('batches land after the apply', async () => batches >= after + 5);
    } finally {
      await posting.stop();
      if (apply && apply.process.exitCode === null) {
        apply.process.kill('SIGCONT');
        await apply.kill();
      }
    }
    let last = { gold: '', oracle: '' };
    await until('gold.daily equals the new SQL over bronze', async () => {
      last = await goldAndOracle();
      return last.gold === last.oracle;
    });
    expect(last.gold).toBe(last.oracle);
    expect(JSON.parse(last.gold).length, `${batches} batches: ${last.gold}`).toBeGreaterThan(3);
    // Nothing serve committed after the rebuild ran the old SQL (a run planned before it failed and ran again).
    const later = (await (await lake.table('gold.daily')).history({ limit: 1000 })).filter((c) => c.version > rebuiltAt);
    expect(later.length).toBeGreaterThanOrEqual(1);
    for (const c of later) {
      const record = modelVersionOf(c.commitInfo);
      if (record) expect(record.sql, `version ${c.version}`).toContain('count(*) * 1000 AS sales');
    }

    // Every acknowledged record is in bronze exactly once (and nothing that was not sent).
    const rows = await engine.all(`SELECT id, count(*) AS n FROM (${await scanOf('bronze.sales')}) GROUP BY id`);
    const counts = new Map(rows.map((r) => [Number(r['id']), Number(r['n'])]));
    expect(acknowledged.length).toBeGreaterThan(100);
    expect(acknowledged.filter((s) => counts.get(s.id) !== 1)).toEqual([]);
    const sent = new Set(Array.from({ length: batches }, (_, k) => batch(k).map((s) => s.id)).flat());
    expect([...counts.keys()].filter((id) => !sent.has(id))).toEqual([]);

    serve.process.kill('SIGTERM');
    expect(await serve.exited, serve.stderr()).toBe(0);
  }, 150_000);
});
