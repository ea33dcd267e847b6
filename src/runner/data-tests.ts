import { LakeloopError, SqlError } from '../core/index.js';
import { quoteIdent, quoteLiteral, type Engine, type SqlRow } from '../engine/index.js';
import { ModelError, type DataTest, type DataTestSeverity, type Model } from '../models/index.js';

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

/** The tables a model's tests read besides the model itself (relationships targets). */
export function testInputs(model: Model): string[] {
  return [...new Set(model.header.tests.flatMap((t) => (t.kind === 'relationships' && t.to !== model.name ? [t.to] : [])))];
}

/**
 * The SELECT returning the rows of `relation` that violate `test`.
 *
 * @example
 * failingRowsSql({ kind: 'not_null', columns: ['id'], ... }, '"t"') // SELECT * FROM "t" WHERE "id" IS NULL
 */
export function failingRowsSql(test: DataTest, relation: string): string {
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
  }
}

/**
 * Runs every data test of `model` over `relation` (the model's result: a temp table during a
 * run, the published table for `lakeloop test`): the failing-row count and a sample per test.
 * A test whose SQL fails (an unknown column) is a `ModelError` naming the test.
 */
export async function runDataTests(engine: Engine, model: Model, relation: string): Promise<DataTestResult[]> {
  const results: DataTestResult[] = [];
  for (const test of model.header.tests) {
    const failing = failingRowsSql(test, relation);
    let failures: number;
    let sample: SqlRow[];
    try {
      failures = Number(await engine.scalar(`SELECT count(*) FROM (${failing})`));
      sample = failures > 0 ? await engine.all(`SELECT * FROM (${failing}) LIMIT ${SAMPLE_ROWS}`) : [];
    } catch (error) {
      if (error instanceof SqlError) {
        const reason = error.message.replace(/^Failed to run SQL: /, '').split('\n')[0];
        throw new ModelError(model.name, model.file, undefined, `data test ${test.name} cannot run: ${reason}`, { cause: error });
      }
      throw error;
    }
    const status = failures === 0 ? 'pass' : test.severity === 'error' ? 'fail' : 'warn';
    results.push(Object.freeze({ model: model.name, test: test.name, severity: test.severity, status, failures, sample: Object.freeze(sample) }));
  }
  return results;
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
