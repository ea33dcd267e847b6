import type { Engine } from '../engine/index.js';
import { didYouMean } from '../core/index.js';
import { quoteLiteral } from '../engine/index.js';
import { lineAt, ModelError, type DataTest, type Model, type ModelDefinition } from './model.js';

/** The lake layers a model's SQL may name. */
const LAKE_SCHEMAS = new Set(['bronze', 'silver', 'gold', 'quarantine']);

/** Models in dependency order: every model comes after the models it reads. */
export interface ModelDag {
  readonly models: readonly Model[];
  readonly byName: ReadonlyMap<string, Model>;
}

/** What `resolveModels` checks references against. */
export interface ResolveOptions {
  readonly engine: Engine;
  /** Tables that exist or will exist without a model: bronze/quarantine tables in the lake, and `bronze.<source>` of every contract. */
  readonly knownTables: Iterable<string>;
}

/**
 * Finds each model's upstream tables with DuckDB's parser and orders the models. A SQL
 * syntax error, a reference to a table that is neither a model nor known, and a cycle
 * are `ModelError`s naming the file (and line).
 *
 * @example
 * const dag = await resolveModels(await loadModels('/repo'), { engine, knownTables: ['bronze.orders'] });
 * dag.models.map((m) => m.name); // ['silver.orders', 'gold.daily_revenue']
 */
export async function resolveModels(definitions: readonly ModelDefinition[], options: ResolveOptions): Promise<ModelDag> {
  const names = new Set(definitions.map((d) => d.name));
  const known = new Set(options.knownTables);
  const resolved = new Map<string, Model>();
  for (const definition of definitions) {
    const upstream = await upstreamOf(definition, options.engine, names, known);
    const tests = await resolveCustomTests(definition, options.engine, names, known);
    const header = tests === definition.header.tests ? definition.header : Object.freeze({ ...definition.header, tests });
    resolved.set(definition.name, Object.freeze({ ...definition, header, upstream }));
  }
  const ordered = testInputsFirst(topologicalOrder(resolved), resolved);
  return Object.freeze({ models: Object.freeze(ordered), byName: resolved });
}

/**
 * The models named and every model downstream of them (transitively), in the order of
 * `models` (DAG order): what a reconcile or replay of those models must recompute.
 *
 * @example
 * withDownstream(dag.models, ['silver.orders']) // silver.orders, gold.daily_revenue, …
 */
export function withDownstream(models: readonly Model[], names: readonly string[]): Model[] {
  const wanted = new Set(names);
  for (const model of models) if (model.upstream.some((u) => wanted.has(u))) wanted.add(model.name);
  return models.filter((m) => wanted.has(m.name));
}

/**
 * The lake tables a model's tests read besides the model itself: `relationships` targets and
 * what custom SQL tests read (known once `resolveModels` ran).
 *
 * @example
 * testInputsOf(dag.byName.get('silver.payments')!) // ['silver.orders']
 */
export function testInputsOf(model: ModelDefinition): string[] {
  const inputs = model.header.tests.flatMap((t) => (t.kind === 'relationships' ? [t.to] : t.kind === 'sql' ? t.inputs : []));
  return [...new Set(inputs)].filter((name) => name !== model.name);
}

/** The model's tests with the tables each custom SQL test reads filled in (the same array when it has none). */
async function resolveCustomTests(model: ModelDefinition, engine: Engine, models: ReadonlySet<string>, known: ReadonlySet<string>): Promise<readonly DataTest[]> {
  if (!model.header.tests.some((t) => t.kind === 'sql')) return model.header.tests;
  const tests: DataTest[] = [];
  for (const test of model.header.tests) {
    if (test.kind !== 'sql') {
      tests.push(test);
      continue;
    }
    const inputs = await referencedTables({ ...test, what: `custom test ${test.name}` }, model.name, engine, models, known);
    tests.push(Object.freeze({ ...test, inputs: Object.freeze(inputs) }));
  }
  return Object.freeze(tests);
}

function upstreamOf(model: ModelDefinition, engine: Engine, models: ReadonlySet<string>, known: ReadonlySet<string>): Promise<string[]> {
  return referencedTables({ ...model, what: '' }, model.name, engine, models, known);
}

/** SQL in a file: a model's SELECT or a custom test's. `what` prefixes error reasons (empty for the model itself). */
interface SqlSource {
  readonly file: string;
  readonly text: string;
  readonly sql: string;
  readonly sqlOffset: number;
  readonly what: string;
}

async function referencedTables(source: SqlSource, model: string, engine: Engine, models: ReadonlySet<string>, known: ReadonlySet<string>): Promise<string[]> {
  const prefix = source.what ? `${source.what}: ` : '';
  const tree = JSON.parse(String(await engine.scalar(`SELECT json_serialize_sql(${quoteLiteral(source.sql)})`))) as {
    error: boolean;
    error_message?: string;
    position?: string;
  };
  if (tree.error) {
    const position = tree.position === undefined ? undefined : Number(tree.position);
    const line = position === undefined || Number.isNaN(position) ? undefined : lineAt(source.text, source.sqlOffset + position);
    throw new ModelError(model, source.file, line, `${prefix}SQL syntax error: ${tree.error_message ?? 'cannot parse'}`, { invalidFile: true });
  }
  const refs = await engine.tableRefs(source.sql);
  const upstream = new Set<string>();
  for (const ref of refs) {
    const line = ref.location === undefined ? undefined : lineAt(source.text, source.sqlOffset + ref.location);
    const written = [ref.catalog, ref.schema, ref.name].filter((p) => p !== '').join('.');
    const schema = ref.schema.toLowerCase();
    if (ref.catalog !== '' || !LAKE_SCHEMAS.has(schema)) {
      throw new ModelError(model, source.file, line, `${prefix}unknown table ${written}`, {
        invalidFile: true,
        hint: 'Name lake tables as <layer>.<table> (bronze, silver, gold, quarantine), e.g. bronze.orders.',
      });
    }
    const name = `${schema}.${ref.name}`;
    if (!models.has(name) && !known.has(name)) {
      throw new ModelError(model, source.file, line, `${prefix}unknown table ${name}: no model defines it and it is not in the lake`, {
        invalidFile: true,
        hint: `${capitalized(didYouMean(name, [...models, ...known]))}Check the name, add sql/<layer>/<name>.sql for a model, or a contract for a bronze source.`,
      });
    }
    upstream.add(name);
  }
  return [...upstream].sort();
}

function topologicalOrder(models: ReadonlyMap<string, Model>): Model[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const ordered: Model[] = [];
  const stack: string[] = [];
  const visit = (name: string): void => {
    const model = models.get(name);
    if (!model) return;
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      const files = cycle.slice(0, -1).map((n) => models.get(n)?.file ?? n);
      throw new ModelError(model.name, model.file, undefined, `models form a cycle: ${cycle.join(' -> ')} (files: ${files.join(', ')})`, {
        invalidFile: true,
        hint: 'A model cannot read itself, directly or through other models: remove one of the references.',
      });
    }
    state.set(name, 'visiting');
    stack.push(name);
    for (const up of model.upstream) visit(up);
    stack.pop();
    state.set(name, 'done');
    ordered.push(model);
  };
  for (const name of [...models.keys()].sort()) visit(name);
  return ordered;
}

/**
 * `ordered` (a dependency order) changed only so that the models a model's tests read
 * (`testInputsOf`) run before it where its dependencies allow: a test cannot read a table
 * that is not built yet. Test inputs are a preference, not a dependency, so two models whose
 * tests read each other are no cycle.
 */
function testInputsFirst(ordered: readonly Model[], models: ReadonlyMap<string, Model>): Model[] {
  const soft = new Map(ordered.map((m) => [m.name, testInputsOf(m).filter((n) => models.has(n))]));
  if (![...soft.values()].some((inputs) => inputs.length > 0)) return [...ordered];
  const placed = new Set<string>();
  const pending = [...ordered];
  const result: Model[] = [];
  while (pending.length > 0) {
    const ready = pending.filter((m) => m.upstream.every((up) => !models.has(up) || placed.has(up)));
    const next = ready.find((m) => (soft.get(m.name) ?? []).every((n) => placed.has(n))) ?? ready[0] ?? pending[0];
    if (!next) break;
    pending.splice(pending.indexOf(next), 1);
    placed.add(next.name);
    result.push(next);
  }
  return result;
}

function capitalized(sentence: string | undefined): string {
  return sentence === undefined ? '' : `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)} `;
}
