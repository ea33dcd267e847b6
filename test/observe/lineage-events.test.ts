import { createServer, type Server } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../cli/cli-harness.js';
import { HAS_OPENLINEAGE_SPEC, OPENLINEAGE_SPEC_DIR, openLineageAjv, openLineageProblems } from '../helpers/openlineage.js';
import { openProjectLake, writeProject } from '../helpers/project.js';
import { SALES_PROJECT, type Sale } from '../fixtures/sales-project.js';

/**
 * OpenLineage from the CLI (issue 15): `ingest` and `run` with `LAKELOOP_LINEAGE_FILE` and
 * `LAKELOOP_LINEAGE_URL` emit RunEvents that validate against the OpenLineage JSON Schema
 * (spec 2-0-2, facets by `_schemaURL`), START then COMPLETE or FAIL per model with the
 * run as parent, the Delta versions read and committed, and no credential anywhere.
 */
if (!HAS_OPENLINEAGE_SPEC) console.warn(`lineage schema test skipped: no OpenLineage spec at ${OPENLINEAGE_SPEC_DIR} (set LAKELOOP_OPENLINEAGE_SPEC)`);

const FAKE_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const FAKE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const CREDENTIALS = { AWS_ACCESS_KEY_ID: FAKE_KEY_ID, AWS_SECRET_ACCESS_KEY: FAKE_SECRET };

/** Fails at run time; its SQL and its error both hold the secret, which must not leave the process. */
const LEAKY = `/*
kind: full
*/
SELECT CAST('${FAKE_SECRET}' AS INTEGER) AS n, amount FROM bronze.sales
`;
const TESTED_GOLD = `/*
kind: full
tests:
  - not_null: [store]
*/
SELECT store, count(*) AS n FROM silver.sales GROUP BY store
`;

interface Facets {
  [name: string]: { _schemaURL: string; [key: string]: unknown };
}
interface Dataset {
  namespace: string;
  name: string;
  facets?: Facets;
  outputFacets?: Facets;
}
interface Event {
  eventType: string;
  eventTime: string;
  run: { runId: string; facets: Facets };
  job: { namespace: string; name: string; facets: Facets };
  inputs: Dataset[];
  outputs: Dataset[];
}

let dir: string;
let remove: () => Promise<void>;
let project: string;
let lake: string;
let lineageFile: string;
let server: Server;
let url: string;
const received: string[] = [];
let requests = 0;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('lineage'));
  project = await writeProject(join(dir, 'project'), { ...SALES_PROJECT, 'sql/silver/leaky.sql': LEAKY, 'sql/gold/stores.sql': TESTED_GOLD });
  lake = join(dir, 'lake');
  lineageFile = join(dir, 'lineage.ndjson');
  // A Marquez-like receiver on loopback; its first answer is a 503, which the sink retries.
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests += 1;
      if (requests === 1 || req.url !== '/api/v1/lineage') {
        res.writeHead(503).end();
        return;
      }
      received.push(body);
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/lineage`;
  const sales: Sale[] = [
    { id: 1, store: 'north', amount: 10, status: 'placed', ts: '2026-03-01T10:00:00Z' },
    { id: 2, store: 'south', amount: 20, status: 'placed', ts: '2026-03-01T11:00:00Z' },
  ];
  const file = join(dir, 'sales.ndjson');
  await writeFile(file, `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  const env = { ...CREDENTIALS, LAKELOOP_LINEAGE_FILE: lineageFile, LAKELOOP_LINEAGE_URL: url };
  expect((await cli(['--lake', lake, 'ingest', 'sales', '--file', file], project, env)).code).toBe(0);
  const run = await cli(['--lake', lake, 'run'], project, env);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('silver.leaky');
  const replay = await cli(['--lake', lake, 'replay', '--models', 'gold.daily', '--from', '2026-03-01', '--to', '2026-03-01', '--priority', 'normal'], project, env);
  expect(replay.code, replay.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  server?.close();
  await remove?.();
});

async function events(): Promise<Event[]> {
  return (await readFile(lineageFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Event);
}

function byJob(all: Event[], job: string, type: string): Event {
  const found = all.find((e) => e.job.name === job && e.eventType === type);
  if (!found) throw new Error(`no ${type} event for ${job}: ${all.map((e) => `${e.job.name} ${e.eventType}`).join(', ')}`);
  return found;
}

describe('OpenLineage events from ingest and run', () => {
  it.skipIf(!HAS_OPENLINEAGE_SPEC)('every event validates against the OpenLineage JSON Schema, each facet against its own', async () => {
    const ajv = openLineageAjv();
    const all = await events();
    expect(all.length).toBeGreaterThanOrEqual(10);
    // The validator does reject what the spec forbids (a run id that is no UUID, a facet without its required field).
    const first = all[0] as Event;
    expect(openLineageProblems(ajv, { ...first, run: { ...first.run, runId: 'not-a-uuid' } }).problems).not.toEqual([]);
    expect(ajv.getSchema(String(first.run.facets['processing_engine']?._schemaURL))?.({ _producer: 'https://x', _schemaURL: 'https://x' })).toBe(false);
    let facetsChecked = 0;
    for (const event of all) {
      const { problems, facets } = openLineageProblems(ajv, event);
      expect(problems, `${event.job.name} ${event.eventType}`).toEqual([]);
      facetsChecked += facets;
    }
    expect(facetsChecked).toBeGreaterThan(30);
  });

  it('each model runs START → COMPLETE under the run as parent, with the Delta versions read and committed', async () => {
    const all = await events();
    const parentStart = byJob(all, 'lakeloop.run', 'START');
    expect(byJob(all, 'lakeloop.run', 'FAIL').run.runId).toBe(parentStart.run.runId);
    const { engine, lake: opened } = await openProjectLake(project, lake);
    try {
      const version = async (name: string): Promise<number> => (await (await opened.table(name)).snapshot()).version;
      for (const [model, inputs] of [['silver.sales', ['bronze.sales']], ['gold.daily', ['silver.sales']], ['gold.stores', ['silver.sales']]] as const) {
        const start = byJob(all, model, 'START');
        const complete = byJob(all, model, 'COMPLETE');
        expect(complete.run.runId).toBe(start.run.runId);
        expect(Date.parse(start.eventTime)).toBeLessThanOrEqual(Date.parse(complete.eventTime));
        expect(start.run.facets['parent']).toMatchObject({ run: { runId: parentStart.run.runId }, job: { namespace: 'lakeloop', name: 'lakeloop.run' } });
        expect(complete.job.facets['sql']?.['query']).toMatch(/SELECT/i);
        expect(complete.run.facets['processing_engine']).toMatchObject({ name: 'lakeloop' });
        expect(complete.inputs.map((d) => d.name)).toEqual(inputs);
        for (const input of complete.inputs) {
          expect(input.namespace).toBe(`file://${lake}`);
          expect(input.facets?.['version']?.['datasetVersion']).toBe(String(await version(input.name)));
        }
        const [output] = complete.outputs;
        expect(output?.name).toBe(model);
        expect(output?.facets?.['version']?.['datasetVersion']).toBe(String(await version(model)));
        expect((output?.facets?.['schema']?.['fields'] as { name: string }[]).length).toBeGreaterThan(0);
      }
      expect(byJob(all, 'gold.stores', 'COMPLETE').outputs[0]?.facets?.['dataQualityAssertions']?.['assertions']).toEqual([{ assertion: 'not_null(store)', success: true }]);
      const ingest = byJob(all, 'ingest.sales', 'COMPLETE');
      expect(ingest.outputs[0]).toMatchObject({ name: 'bronze.sales' });
      expect(ingest.outputs[0]?.facets?.['version']?.['datasetVersion']).toBe(String(await version('bronze.sales')));
    } finally {
      await engine.close();
    }
  });

  it('replay emits one run with the tables it read at their versions and the versions it published', async () => {
    const all = await events();
    const start = byJob(all, 'lakeloop.replay', 'START');
    const complete = byJob(all, 'lakeloop.replay', 'COMPLETE');
    expect(complete.run.runId).toBe(start.run.runId);
    expect(complete.job.facets['jobType']).toMatchObject({ jobType: 'REPLAY', integration: 'LAKELOOP', processingType: 'BATCH' });
    expect(complete.inputs.map((d) => d.name)).toEqual(['silver.sales']);
    const { engine, lake: opened } = await openProjectLake(project, lake);
    try {
      expect(complete.inputs[0]?.facets?.['version']?.['datasetVersion']).toBe(String((await (await opened.table('silver.sales')).snapshot()).version));
      for (const output of complete.outputs) {
        expect(output.name).toBe('gold.daily');
        expect(output.facets?.['version']?.['datasetVersion']).toBe(String((await (await opened.table('gold.daily')).snapshot()).version));
      }
    } finally {
      await engine.close();
    }
  });

  it('a failing model emits FAIL with the error-message facet; the model it blocks emits nothing', async () => {
    const all = await events();
    const fail = byJob(all, 'silver.leaky', 'FAIL');
    expect(byJob(all, 'silver.leaky', 'START').run.runId).toBe(fail.run.runId);
    expect(fail.run.facets['errorMessage']?.['message']).toMatch(/Could not convert|Conversion Error/i);
    expect(all.some((e) => e.job.name === 'silver.leaky' && e.eventType === 'COMPLETE')).toBe(false);
  });

  it('the HTTP sink delivered every event (after retrying a 503), and no credential is in any event', async () => {
    const file = await readFile(lineageFile, 'utf8');
    expect(received.length).toBe(file.trim().split('\n').length);
    expect(received.map((b) => (JSON.parse(b) as Event).run.runId).sort()).toEqual((await events()).map((e) => e.run.runId).sort());
    for (const text of [file, ...received]) {
      expect(text).not.toContain(FAKE_SECRET);
      expect(text).not.toContain(FAKE_KEY_ID);
    }
    expect(file).toContain('[redacted]');
  });
});
