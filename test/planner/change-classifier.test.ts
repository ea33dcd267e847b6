import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { embeddableSql, modelFingerprint, modelVersionOf, modelVersionRecord, normalizeSql, parseModelFile, type ModelDefinition } from '../../src/models/index.js';
import { classifyEdit } from '../../src/planner/index.js';

/** Fingerprints and change kinds (SQLMesh's categories) from model files alone, on real DuckDB parse trees. */
let engine: Engine;

beforeAll(async () => {
  engine = await Engine.create({ threads: 1 });
});

afterAll(async () => engine.close());

function model(text: string): ModelDefinition {
  const parsed = parseModelFile('/p/sql/gold/x.sql', text);
  return { name: 'gold.x', file: '/p/sql/gold/x.sql', header: parsed.header, sql: parsed.sql, sqlOffset: parsed.sqlOffset, text };
}

const BASE = `/*
kind: incremental_by_partition
partition_by: d
owner: team
*/
SELECT d, store, sum(amount) AS revenue
FROM silver.sales
GROUP BY d, store
`;

async function kindOf(before: string, after: string): Promise<string> {
  return classifyEdit(engine, modelVersionRecord(model(before)), model(after));
}

describe('normalizeSql and fingerprints', () => {
  it('drops comments and insignificant whitespace, keeps literals and the words apart', () => {
    expect(normalizeSql("SELECT a, -- why\n count( * ) /* c */\nFROM t WHERE s = 'x  -- y';")).toBe("SELECT a,count(*)FROM t WHERE s='x  -- y'");
    expect(normalizeSql('select  a\n\tfrom t')).toBe('select a from t');
  });

  it('a comment- or whitespace-only edit keeps the fingerprint; a value change or a row header key changes it; metadata keys do not', () => {
    const base = model(BASE);
    expect(modelFingerprint(model(BASE.replace('GROUP BY d, store', '-- by day\nGROUP  BY d,store')))).toBe(modelFingerprint(base));
    expect(modelFingerprint(model(BASE.replace('sum(amount)', 'sum(amount) * 1000')))).not.toBe(modelFingerprint(base));
    expect(modelFingerprint(model(BASE.replace('kind: incremental_by_partition', 'kind: full')))).not.toBe(modelFingerprint(base));
    expect(modelFingerprint(model(BASE.replace('owner: team', 'owner: other\nlateness: 2h')))).toBe(modelFingerprint(base));
  });

  it('the record a commit carries reads back, and a malformed one is ignored', () => {
    const record = modelVersionRecord(model(BASE), 123);
    expect(modelVersionOf({ lakeloop: { modelVersion: JSON.parse(JSON.stringify(record)) } })).toEqual(record);
    expect(modelVersionOf({ lakeloop: { modelVersion: { fingerprint: 'nope' } } })).toBeUndefined();
    expect(modelVersionOf({ lakeloop: { model: 'gold.x', upstream: {} } })).toBeUndefined();
  });

  it('SQL ending in a -- comment stays whole inside parentheses', () => {
    expect(embeddableSql('SELECT 1 -- one')).toBe('SELECT 1 -- one\n');
    expect(embeddableSql('SELECT 1;')).toBe('SELECT 1\n');
    expect(`(${embeddableSql(model('SELECT 1 AS a -- trailing\n').sql)})`).toBe('(SELECT 1 AS a -- trailing\n)');
  });
});

describe('classifyEdit', () => {
  it('unchanged, metadata, breaking value changes and header changes', async () => {
    expect(await kindOf(BASE, BASE.replace('FROM silver.sales', '/* the sales */ FROM  silver.sales'))).toBe('unchanged');
    expect(await kindOf(BASE, BASE.replace('owner: team', 'owner: finance\ntests:\n  - not_null: [d]'))).toBe('metadata');
    expect(await kindOf(BASE, BASE.replace('sum(amount)', 'sum(amount) * 1000'))).toBe('breaking');
    expect(await kindOf(BASE, BASE.replace('FROM silver.sales', 'FROM silver.sales WHERE amount > 0'))).toBe('breaking');
    expect(await kindOf(BASE, BASE.replace('kind: incremental_by_partition\npartition_by: d', 'kind: full\npartition_by: store'))).toBe('breaking');
  });

  it('columns added to the SELECT list are non-breaking unless they change the rows', async () => {
    expect(await kindOf(BASE, BASE.replace('AS revenue', 'AS revenue, count(*) AS n'))).toBe('non-breaking');
    expect(await kindOf(BASE, BASE.replace('AS revenue', 'AS revenue, max(amount) AS top, avg(amount) AS mean'))).toBe('non-breaking');
    // a column removed, reordered or renamed
    expect(await kindOf(BASE, BASE.replace('d, store, sum', 'd, sum'))).toBe('breaking');
    expect(await kindOf(BASE, BASE.replace('AS revenue', 'AS total'))).toBe('breaking');
    const plain = 'SELECT id, amount FROM silver.sales';
    expect(await kindOf(plain, 'SELECT id, amount, amount * 2 AS doubled FROM silver.sales')).toBe('non-breaking');
    expect(await kindOf(plain, 'SELECT id, amount, row_number() OVER (ORDER BY id) AS rn FROM silver.sales')).toBe('non-breaking');
    // an aggregate turns rows into one; unnest multiplies them; DISTINCT and GROUP BY ALL regroup
    expect(await kindOf(plain, 'SELECT id, amount, count(*) AS n FROM silver.sales')).toBe('breaking');
    expect(await kindOf(plain, 'SELECT id, amount, unnest([1, 2]) AS k FROM silver.sales')).toBe('breaking');
    expect(await kindOf('SELECT DISTINCT id FROM silver.sales', 'SELECT DISTINCT id, amount FROM silver.sales')).toBe('breaking');
    expect(await kindOf('SELECT d, sum(a) AS s FROM t GROUP BY ALL', 'SELECT d, sum(a) AS s, store FROM t GROUP BY ALL')).toBe('breaking');
    expect(await kindOf('SELECT d, sum(a) AS s FROM t GROUP BY ALL', 'SELECT d, sum(a) AS s, count(*) AS n FROM t GROUP BY ALL')).toBe('non-breaking');
  });
});
