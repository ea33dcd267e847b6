import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../core/index.js';
import { yamlHeaderIssue } from './model-header.js';
import type { CustomSqlTestSpec, DataTest, DataTestSeverity, ModelDefinition } from './model.js';

/** Where a project keeps its custom SQL data tests, relative to the project folder. */
export const CUSTOM_TESTS_DIR = 'tests';

/** A custom SQL test read from its file, with the model it belongs to. */
export interface CustomSqlTest {
  /** `layer.name` of the model whose run (and `lakeloop test`) runs it. */
  readonly model: string;
  readonly test: DataTest & CustomSqlTestSpec;
}

const HeaderSchema = z.strictObject({
  model: z.string().regex(/^(silver|gold)\.[A-Za-z0-9_][A-Za-z0-9_-]*$/, 'expected the model it tests as layer.name, e.g. silver.orders'),
  severity: z.enum(['error', 'warn']).optional(),
  description: z.string().min(1).optional(),
});

const LEADING_COMMENT = /^\s*\/\*([\s\S]*?)\*\//;

/**
 * Reads every custom SQL test of a project (`tests/**\/*.sql`, sorted by path). Each file is
 * a YAML header in a leading `/* ... *\/` comment (`model:`, optional `severity: error|warn`
 * and `description:`) and a SELECT returning the failing rows; the test is named after its
 * path (`sql(tests/paid_orders_have_payments.sql)`). A missing folder has no tests; a bad
 * header or an empty SELECT is a `ConfigError` naming the file.
 *
 * @example
 * // tests/paid_orders_have_payments.sql:
 * // /* model: silver.payments
 * //    severity: warn *\/
 * // SELECT o.order_id FROM silver.orders AS o WHERE ...
 * const tests = await loadCustomTests('/repo'); // [{ model: 'silver.payments', test: { kind: 'sql', ... } }]
 */
export async function loadCustomTests(projectDir: string): Promise<CustomSqlTest[]> {
  const root = resolve(projectDir, CUSTOM_TESTS_DIR);
  const entries = await readdir(root, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [] as string[];
    throw new ConfigError(root, [{ path: '', message: `cannot read the folder: ${error.message}` }], { cause: error });
  });
  const tests: CustomSqlTest[] = [];
  for (const entry of entries.filter((e) => e.endsWith('.sql')).sort()) {
    const file = join(root, entry);
    const text = await readFile(file, 'utf8');
    const shown = relative(projectDir, file).split(sep).join('/');
    tests.push(parseCustomTest(file, shown, text));
  }
  return tests;
}

/** Parses one custom test file; `shown` is its project-relative path, used as its name. */
export function parseCustomTest(file: string, shown: string, text: string): CustomSqlTest {
  const match = LEADING_COMMENT.exec(text);
  const example = "start the file with a header like /* model: silver.orders */ (optionally severity: warn), then a SELECT returning the failing rows";
  if (!match) throw new ConfigError(file, [{ path: 'header', message: `no header: ${example}` }]);
  let raw: unknown;
  try {
    raw = parseYaml(match[1] ?? '') ?? {};
  } catch (error) {
    throw new ConfigError(file, [yamlHeaderIssue(text, match.index + match[0].indexOf('/*') + 2, error)], { cause: error });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(file, [{ path: 'header', message: `the header must be YAML key: value pairs: ${example}` }]);
  const result = HeaderSchema.safeParse(raw);
  if (!result.success) {
    const issues: ConfigIssue[] = result.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? { path: issue.keys.join(', '), message: `unknown header key (known: ${Object.keys(HeaderSchema.shape).join(', ')})` }
        : { path: issue.path.map(String).join('.') || 'header', message: issue.message },
    );
    throw new ConfigError(file, issues);
  }
  let sqlOffset = match.index + match[0].length;
  let sql = text.slice(sqlOffset);
  sqlOffset += sql.length - sql.trimStart().length;
  sql = sql.trim().replace(/;\s*$/, '').trimEnd();
  if (!/\S/.test(sql.replace(/--[^\n]*/g, ''))) throw new ConfigError(file, [{ path: 'sql', message: 'no SELECT after the header: write one returning the failing rows' }]);
  const severity: DataTestSeverity = result.data.severity ?? 'error';
  const test = Object.freeze({
    kind: 'sql' as const,
    file,
    sql,
    sqlOffset,
    text,
    description: result.data.description,
    inputs: Object.freeze([] as string[]),
    severity,
    name: `sql(${shown})`,
  });
  return Object.freeze({ model: result.data.model, test });
}

/**
 * The model definitions with each custom test appended to its model's `tests`. A test naming
 * a model that does not exist is a `ConfigError` naming the test's file and the models.
 */
export function attachCustomTests(definitions: readonly ModelDefinition[], tests: readonly CustomSqlTest[]): ModelDefinition[] {
  const byModel = new Map<string, DataTest[]>();
  const names = new Set(definitions.map((d) => d.name));
  for (const { model, test } of tests) {
    if (!names.has(model)) {
      const known = [...names].sort().join(', ') || 'none';
      throw new ConfigError(test.file, [{ path: 'model', message: `no model ${model} (models: ${known})` }]);
    }
    byModel.set(model, [...(byModel.get(model) ?? []), test]);
  }
  return definitions.map((d) => {
    const extra = byModel.get(d.name);
    if (!extra) return d;
    return Object.freeze({ ...d, header: Object.freeze({ ...d.header, tests: Object.freeze([...d.header.tests, ...extra]) }) });
  });
}
