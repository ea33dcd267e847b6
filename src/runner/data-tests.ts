import { LakeloopError, SqlError } from '../core/index.js';
import { quoteIdent, quoteLiteral, type Engine, type SqlRow } from '../engine/index.js';
import { embeddableSql, ModelError, testInputsOf, type DataTest, type DataTestSeverity, type Model } from '../models/index.js';

/** How many failing rows a result keeps as a sample. */
export const SAMPLE_ROWS = 5;

/** The outcome of one data test. */
export interface DataTestResult {
  readonly model: string;
  readonly test: string;
  readonly severity: DataTestSeverity;
  /** `pass`; `fail` (an error test failed); `warn` (a warn test failed). */
  readonly status: 'pass' | 'fail' | 'warn';
  /** Failing rows (for `unique`: duplicated key combinations; for `row_count`: 1). */
  readonly failures: number;
  /** Up to `SAMPLE_ROWS` failing rows. */
  readonly sample: readonly SqlRow[];
}

/** `layer.table` as a quoted SQL relation. */
export function relationOf(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

/** The tables a model's tests read besides the model itself (relationships targets, what custom SQL tests read). */
export function testInputs(model: Model): string[] {
  return testInputsOf(model);
}

/** When a data test runs: `freshness` compares with `nowMs` (default: the system clock). */
export interface DataTestOptions {
  readonly nowMs?: number;
}

/**
 * The SELECT returning the rows of `relation` that violate `test`.
 *
 * @example
 * failingRowsSql({ kind: 'not_null', columns: ['id'], ... }, '"t"') // SELECT * FROM "t" WHERE "id" IS NULL
 */
export function failingRowsSql(test: DataTest, relation: string, options: DataTestOptions = {}): string {
  switch (test.kind) {
    case 'not_null':
      return `SELECT * FROM ${relation} WHERE ${test.columns.map((c) => `${quoteIdent(c)} IS NULL`).join(' OR ')}`;
    case 'unique': {
      const cols = test.columns.map(quoteIdent).join(', ');
      return `SELECT ${cols}, CAST(count(*) AS DOUBLE) AS duplicates FROM ${relation} GROUP BY ${cols} HAVING count(*) > 1`;
    }
    case 'accepted_values': {
      const values = test.values.map((v) => (typeof v === 'string' ? quoteLiteral(v) : String(v))).join(', ');
      return `SELECT * FROM ${relation} WHERE ${quoteIdent(test.column)} IS NOT NULL AND ${quoteIdent(test.column)} NOT IN (${values})`;
    }
    case 'relationships':
      return (
        `SELECT * FROM ${relation} AS _child WHERE _child.${quoteIdent(test.column)} IS NOT NULL AND NOT EXISTS ` +
        `(SELECT 1 FROM ${relationOf(test.to)} AS _parent WHERE _parent.${quoteIdent(test.field)} = _child.${quoteIdent(test.column)})`
      );
    case 'row_count': {
      const conditions = [test.min === undefined ? '' : `count(*) >= ${test.min}`, test.max === undefined ? '' : `count(*) <= ${test.max}`].filter(Boolean);
      return `SELECT CAST(count(*) AS DOUBLE) AS row_count FROM ${relation} HAVING NOT (${conditions.join(' AND ')})`;
    }
    case 'expression':
      return `SELECT * FROM ${relation} WHERE (${test.expression}) IS NOT TRUE`;
    case 'freshness': {
      // Date-times are instants (the session runs in UTC); a DATE counts from its midnight UTC.
      const now = `to_timestamp(${(options.nowMs ?? Date.now()) / 1000})`;
      const newest = `CAST(max(${quoteIdent(test.column)}) AS TIMESTAMPTZ)`;
      return (
        `SELECT CAST(${newest} AS VARCHAR) AS newest, CAST(${now} - ${newest} AS VARCHAR) AS age, ${quoteLiteral(test.maxAge)} AS max_age, ` +
        `CAST(${now} AS VARCHAR) AS checked_at FROM ${relation} HAVING ${newest} IS NULL OR ${newest} < ${now} - to_milliseconds(${test.maxAgeMs})`
      );
    }
    case 'sql':
      // Reads the model by its name: runDataTests binds that name to `relation` while it runs.
      return embeddableSql(test.sql);
  }
}

/**
 * Runs every data test of `model` over `relation` (the model's result: a temp table during a
 * run, the published table for `lakeloop test`): the failing-row count and a sample per test.
 * Custom SQL tests read the model by its name, bound to `relation` while they run; `freshness`
 * compares with `options.nowMs` (the runner passes its lake's clock). A test whose SQL fails
 * (an unknown column) is a `ModelError` naming the test (and a custom test's file).
 */
export async function runDataTests(engine: Engine, model: Model, relation: string, options: DataTestOptions = {}): Promise<DataTestResult[]> {
  const results: DataTestResult[] = [];
  for (const test of model.header.tests) {
    const failing = failingRowsSql(test, relation, options);
    let failures: number;
    let sample: SqlRow[];
    try {
      const count = async (): Promise<number> => Number(await engine.scalar(`SELECT count(*) FROM (${failing})`));
      const rows = async (): Promise<SqlRow[]> => engine.all(`SELECT * FROM (${failing}) LIMIT ${SAMPLE_ROWS}`);
      if (test.kind === 'sql') {
        ({ failures, sample } = await withModelBoundTo(engine, model.name, relation, async () => {
          const n = await count();
          return { failures: n, sample: n > 0 ? await rows() : [] };
        }));
      } else {
        failures = await count();
        sample = failures > 0 ? await rows() : [];
      }
    } catch (error) {
      if (error instanceof SqlError) {
        const reason = error.message.replace(/^Failed to run SQL: /, '').split('\n')[0];
        const file = test.kind === 'sql' ? test.file : model.file;
        throw new ModelError(model.name, file, undefined, `data test ${test.name} cannot run: ${reason}`, { cause: error });
      }
      throw error;
    }
    const status = failures === 0 ? 'pass' : test.severity === 'error' ? 'fail' : 'warn';
    results.push(Object.freeze({ model: model.name, test: test.name, severity: test.severity, status, failures, sample: Object.freeze(sample) }));
  }
  return results;
}

/**
 * Runs `work` with the model's name (`gold.x`) bound to `relation` (the write-audit-publish
 * temp table), so a custom SQL test that names the model audits the result about to be
 * published; the view that name had before (or none) is restored afterwards.
 */
async function withModelBoundTo<T>(engine: Engine, model: string, relation: string, work: () => Promise<T>): Promise<T> {
  const own = relationOf(model);
  if (relation === own) return work();
  const [schema = '', table = ''] = model.split('.');
  const previous = await engine.scalar(
    'SELECT sql FROM duckdb_views() WHERE database_name = current_database() AND schema_name = ? AND view_name = ? AND NOT temporary',
    [schema, table],
  );
  await engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await engine.run(`CREATE OR REPLACE VIEW ${own} AS SELECT * FROM ${relation}`);
  try {
    return await work();
  } finally {
    await engine.run(`DROP VIEW IF EXISTS ${own}`);
    if (typeof previous === 'string') await engine.run(previous);
  }
}

/** Blocking data tests failed: nothing of the model was published. */
export class DataTestFailed extends LakeloopError {
  readonly model: string;
  readonly file: string;
  readonly failed: readonly DataTestResult[];

  constructor(model: Model, failed: readonly DataTestResult[], published: boolean) {
    const lines = failed.map(
      (r) => `  ${r.test}: ${r.failures} failing ${r.failures === 1 ? 'row' : 'rows'}, e.g.\n${r.sample.map((row) => `    ${JSON.stringify(row)}`).join('\n')}`,
    );
    const what = failed.length === 1 ? `data test ${failed[0]?.test ?? ''} failed` : `${failed.length} data tests failed`;
    super('DATA_TEST', `Model ${model.name} (${model.file}): ${what}${published ? '' : '; nothing was published'}\n${lines.join('\n')}`, {
      hint: `Fix the data or the SQL of ${model.file}, or mark the test \`severity: warn\`.`,
    });
    this.model = model.name;
    this.file = model.file;
    this.failed = failed;
  }
}
