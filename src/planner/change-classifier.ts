import { quoteLiteral, type Engine } from '../engine/index.js';
import { modelFingerprint, modelVersionRecord, rowHeaderOf, type ModelDefinition, type ModelVersionRecord } from '../models/index.js';

/**
 * How a model's file differs from the lake (as SQLMesh categorises changes):
 * - `added`: no table yet; `removed`: a table no model file defines any more;
 * - `breaking`: rows or values may change (the model and everything downstream rebuild);
 * - `non-breaking`: only columns added to the SELECT list (the model rebuilds, downstream does not);
 * - `metadata`: only tests, owner, domain, freshness, lateness or max_future_skew changed (no rebuild);
 * - `unchanged`: nothing, or comments and whitespace only.
 */
export type ModelChangeKind = 'added' | 'removed' | 'breaking' | 'non-breaking' | 'metadata' | 'unchanged';

/**
 * Compares a model's file with the version recorded in the lake: by fingerprint first, then,
 * when only the SQL differs, by DuckDB's parse trees of both (`json_serialize_sql`): equal
 * but for expressions appended to the top SELECT list, which add no grouping, aggregate or
 * unnest, is `non-breaking`; any other difference is `breaking`.
 *
 * @example
 * await classifyEdit(engine, published.record, model) // 'non-breaking'
 */
export async function classifyEdit(engine: Engine, published: ModelVersionRecord, current: ModelDefinition): Promise<ModelChangeKind> {
  if (published.fingerprint === modelFingerprint(current)) {
    return published.metadata === modelVersionRecord(current).metadata ? 'unchanged' : 'metadata';
  }
  if (JSON.stringify(published.header) !== JSON.stringify(rowHeaderOf(current.header))) {
    // Only the normalised spelling of version_by / delete_when may differ: then compare the SQL alone.
    const a = { ...published.header, version_by: null, delete_when: null };
    const b = { ...rowHeaderOf(current.header), version_by: null, delete_when: null };
    if (JSON.stringify(a) !== JSON.stringify(b)) return 'breaking';
    const sameExpr = async (x: string | null, y: string | null): Promise<boolean> => x === y || (x !== null && y !== null && (await parseTree(engine, `SELECT ${x}`)) === (await parseTree(engine, `SELECT ${y}`)));
    if (!(await sameExpr(published.header.version_by, rowHeaderOf(current.header).version_by))) return 'breaking';
    if (!(await sameExpr(published.header.delete_when, rowHeaderOf(current.header).delete_when))) return 'breaking';
  }
  return (await onlyColumnsAdded(engine, published.sql, current.sql)) ? 'non-breaking' : 'breaking';
}

interface SelectNode {
  type: string;
  modifiers: { type: string }[];
  select_list: unknown[];
  group_expressions: unknown[];
  aggregate_handling: string;
  [key: string]: unknown;
}

async function parseTree(engine: Engine, sql: string): Promise<string | undefined> {
  const tree = JSON.parse(String(await engine.scalar(`SELECT json_serialize_sql(${quoteLiteral(sql)})`))) as { error: boolean; statements?: { node: unknown }[] };
  if (tree.error || tree.statements?.length !== 1) return undefined;
  return JSON.stringify(withoutLocations(tree.statements[0]?.node));
}

/** Whether `after` is `before` with expressions appended to its top-level SELECT list and nothing else changed. */
async function onlyColumnsAdded(engine: Engine, before: string, after: string): Promise<boolean> {
  const [a, b] = [await parseTree(engine, before), await parseTree(engine, after)];
  if (a === undefined || b === undefined) return false;
  const old = JSON.parse(a) as SelectNode;
  const next = JSON.parse(b) as SelectNode;
  if (old.type !== 'SELECT_NODE' || next.type !== 'SELECT_NODE') return false;
  // DISTINCT over more columns keeps more rows.
  if (next.modifiers.some((m) => m.type === 'DISTINCT_MODIFIER')) return false;
  const rest = (n: SelectNode): string => JSON.stringify({ ...n, select_list: null });
  if (rest(old) !== rest(next)) return false;
  const oldItems = old.select_list.map((e) => JSON.stringify(e));
  const newItems = next.select_list.map((e) => JSON.stringify(e));
  const added: unknown[] = [];
  let i = 0;
  for (const [j, item] of newItems.entries()) {
    if (i < oldItems.length && item === oldItems[i]) i++;
    else added.push(next.select_list[j]);
  }
  if (i < oldItems.length || added.length === 0) return false;
  const aggregates = await aggregateNames(engine);
  const grouped = next.group_expressions.length > 0 || next.aggregate_handling === 'FORCE_AGGREGATES' || old.select_list.some((e) => calls(e, aggregates));
  // GROUP BY ALL groups by every plain column: a new one splits groups.
  if (next.aggregate_handling === 'FORCE_AGGREGATES' && added.some((e) => !calls(e, aggregates))) return false;
  // A new aggregate turns row-level SELECTs into one row; an unnest multiplies rows.
  if (!grouped && added.some((e) => calls(e, aggregates))) return false;
  if (added.some((e) => calls(e, new Set(['unnest', 'generate_series', 'range'])))) return false;
  return true;
}

function calls(node: unknown, names: ReadonlySet<string>): boolean {
  if (Array.isArray(node)) return node.some((n) => calls(n, names));
  if (!node || typeof node !== 'object') return false;
  const record = node as Record<string, unknown>;
  if (record['class'] === 'WINDOW') return Object.entries(record).some(([k, v]) => k !== 'function_name' && calls(v, names));
  if (record['class'] === 'FUNCTION' && typeof record['function_name'] === 'string' && names.has(record['function_name'].toLowerCase())) return true;
  return Object.values(record).some((v) => calls(v, names));
}

const AGGREGATES = new WeakMap<Engine, Promise<Set<string>>>();

function aggregateNames(engine: Engine): Promise<Set<string>> {
  let names = AGGREGATES.get(engine);
  if (!names) {
    names = engine
      .all(`SELECT DISTINCT lower(function_name) AS name FROM duckdb_functions() WHERE function_type = 'aggregate'`)
      .then((rows) => new Set([...rows.map((r) => String(r['name'])), 'count_star']));
    AGGREGATES.set(engine, names);
  }
  return names;
}

function withoutLocations(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutLocations);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) if (key !== 'query_location') out[key] = withoutLocations(value);
  return out;
}
