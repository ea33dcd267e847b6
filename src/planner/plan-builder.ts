import { SqlError } from '../core/index.js';
import { quoteIdent, type Engine } from '../engine/index.js';
import { embeddableSql, ModelError, withDownstream, type Model } from '../models/index.js';
import { deltaTypeOfDuckdb, deltaTypeText, duckdbTypeOf, Lake, partitionKey, sameDeltaType, type Snapshot, type TableSchema } from '../table/index.js';
import { classifyEdit, type ModelChangeKind } from './change-classifier.js';
import { heldRebuilds, publishedVersion, type PendingRebuild } from './model-versions.js';

/** A column whose type a change alters. */
export interface RetypedColumn {
  readonly name: string;
  readonly from: string;
  readonly to: string;
}

/** What applying a plan does to one model. */
export interface PlannedModel {
  readonly name: string;
  readonly change: ModelChangeKind;
  /** The table's columns after a rebuild against those it has (empty when it is not rebuilt). */
  readonly columns: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly retyped: readonly RetypedColumn[] };
  /** For a breaking change: the models downstream that must rebuild with it. */
  readonly downstream: readonly string[];
  /** Partitions the table has now (a rebuild rewrites them all; 1 for an unpartitioned table with rows). */
  readonly partitions: number;
  /** Whether apply rebuilds it: its own change, or a breaking change upstream (`rebuildFor`). */
  readonly rebuild: boolean;
  /**
   * The upstream models whose breaking change forces this rebuild (empty when its own change
   * does): changed ones in this plan, and applied ones whose forced rebuild of it has not
   * succeeded yet (`PENDING_REBUILD_KEY`).
   */
  readonly rebuildFor: readonly string[];
  /** Seconds its last recorded full build took (null: none recorded). */
  readonly estimateSeconds: number | null;
  /** partition_by before → after, when it changes. */
  readonly partitionBy?: { readonly from: readonly string[]; readonly to: readonly string[] } | undefined;
}

/**
 * The differences between a project's model files and the lake, from the tables' logs only,
 * and what `lakeloop apply` would do about them: the models it rebuilds in DAG order, and
 * the metadata-only changes it records without rebuilding.
 *
 * @example
 * { models: [{ name: 'gold.daily', change: 'breaking', columns: { added: [], removed: [], retyped: [] }, downstream: [], partitions: 30, rebuild: true, ... }], rebuild: ['gold.daily'], record: [], estimateSeconds: 1.2 }
 */
export interface ModelPlan {
  readonly models: readonly PlannedModel[];
  /** Models apply rebuilds, in DAG order. */
  readonly rebuild: readonly string[];
  /** Models whose metadata-only change apply records (no rows rewritten). */
  readonly record: readonly string[];
  /** Sum of the rebuilt models' last full build times, when every one recorded one. */
  readonly estimateSeconds: number | null;
}

/** Options of `buildPlan`. */
export interface BuildPlanOptions {
  /** Plan only the changes of these models (and what they force downstream); default all. */
  readonly select?: readonly string[];
}

/**
 * Builds the plan for `models` (the project's, in DAG order) against the lake: each model's
 * change against the version its table's log recorded, the schema each rebuilt model will
 * have (DuckDB `DESCRIBE` of its SQL over empty relations with its inputs' columns, so no
 * data is read), the downstream models a breaking change forces to rebuild, partitions
 * and time estimates. Tables of silver/gold with no model file are `removed`.
 *
 * @example
 * const plan = await buildPlan(lake, engine, dag.models);
 * plan.rebuild // ['silver.sales', 'gold.daily']
 */
export async function buildPlan(lake: Lake, engine: Engine, models: readonly Model[], options: BuildPlanOptions = {}): Promise<ModelPlan> {
  const selected = options.select?.length ? new Set(options.select) : undefined;
  const states = new Map<string, { model: Model; change: ModelChangeKind; snapshot: Snapshot | undefined; fullBuildSeconds: number | undefined; held: PendingRebuild[] }>();
  for (const model of models) {
    const table = await lake.tableIfExists(model.name);
    const snapshot = table ? await table.snapshot() : undefined;
    const published = table ? await publishedVersion(table, { estimate: true }) : undefined;
    // A table built before fingerprints were recorded: its file is adopted as published.
    const change: ModelChangeKind = !table ? 'added' : !published ? 'unchanged' : await classifyEdit(engine, published.record, model);
    // A rebuild an earlier apply forced and that has not succeeded yet (its table's configuration says so).
    const held = snapshot ? await heldRebuilds(lake, snapshot) : [];
    states.set(model.name, { model, change, snapshot, fullBuildSeconds: published?.fullBuildSeconds, held });
  }
  const counts = (name: string): boolean => !selected || selected.has(name);
  const rebuild = new Set<string>();
  const forcedBy = new Map<string, string[]>();
  const force = (root: string): void => {
    for (const down of withDownstream(models, [root])) {
      if (down.name === root) continue;
      rebuild.add(down.name);
      forcedBy.set(down.name, [...(forcedBy.get(down.name) ?? []), root]);
    }
  };
  for (const [name, s] of states) {
    if (!counts(name)) continue;
    if (s.change === 'added' || s.change === 'non-breaking' || s.change === 'breaking') rebuild.add(name);
    if (s.change === 'breaking') force(name);
  }
  for (const [name, s] of states) {
    if (!counts(name) || s.held.length === 0) continue;
    rebuild.add(name);
    const by = forcedBy.get(name) ?? [];
    forcedBy.set(name, [...by, ...s.held.map((h) => h.model).filter((m) => !by.includes(m))]);
  }

  // Every model's output as empty relations, in DAG order: rebuilt ones with their new columns.
  const columnsAfter = new Map<string, { name: string; type: string }[]>();
  const bound = new Set<string>();
  const bindEmpty = async (name: string, columns: readonly { name: string; type: string }[]): Promise<void> => {
    const path = Lake.pathOf(name);
    const [layer, table] = [path.slice(0, path.indexOf('/')), path.slice(path.indexOf('/') + 1)];
    const list = columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ');
    await engine.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(layer)}`);
    await engine.run(`CREATE OR REPLACE VIEW ${quoteIdent(layer)}.${quoteIdent(table)} AS SELECT ${list || 'NULL AS _none'} WHERE false`);
    bound.add(name);
  };
  // Inputs with no table yet (a source that has received nothing, a model not built): their columns are unknown.
  const unknownColumns = new Set<string>();
  const planned: PlannedModel[] = [];
  for (const model of models) {
    const s = states.get(model.name);
    if (!s) continue;
    for (const up of model.upstream) {
      if (bound.has(up) || states.has(up)) continue;
      const source = await lake.tableIfExists(up);
      if (source) await bindEmpty(up, duckdbColumns((await source.snapshot()).schema));
      else unknownColumns.add(up);
    }
    let columns = { added: [] as string[], removed: [] as string[], retyped: [] as RetypedColumn[] };
    let change = s.change;
    if (model.upstream.some((up) => unknownColumns.has(up) || (states.has(up) && !bound.has(up)))) {
      unknownColumns.add(model.name);
    } else if (rebuild.has(model.name)) {
      const after = await describeModel(engine, model);
      columnsAfter.set(model.name, after);
      await bindEmpty(model.name, after);
      if (s.snapshot) columns = schemaDiff(s.snapshot.schema, after);
      // Parse trees said "columns added", the schema says otherwise: rows change.
      if (change === 'non-breaking' && (columns.removed.length || columns.retyped.length)) {
        change = 'breaking';
        force(model.name);
      }
    } else if (s.snapshot) {
      await bindEmpty(model.name, duckdbColumns(s.snapshot.schema));
    }
    const before = s.snapshot?.partitionColumns ?? [];
    const partitionBy = s.snapshot && before.join('\0') !== model.header.partitionBy.join('\0') ? { from: [...before], to: [...model.header.partitionBy] } : undefined;
    planned.push({
      name: model.name,
      change,
      columns,
      downstream: change === 'breaking' && counts(model.name) ? withDownstream(models, [model.name]).filter((m) => m.name !== model.name).map((m) => m.name) : [],
      partitions: s.snapshot ? partitionCount(s.snapshot) : 0,
      rebuild: rebuild.has(model.name),
      rebuildFor: forcedBy.get(model.name) ?? [],
      estimateSeconds: s.fullBuildSeconds ?? null,
      ...(partitionBy && rebuild.has(model.name) ? { partitionBy } : {}),
    });
  }
  const modelNames = new Set(models.map((m) => m.name));
  for (const name of await lake.tables()) {
    if (!(name.startsWith('silver.') || name.startsWith('gold.')) || modelNames.has(name) || !counts(name)) continue;
    const snapshot = await (await lake.table(name)).snapshot();
    planned.push({
      name,
      change: 'removed',
      columns: { added: [], removed: [], retyped: [] },
      downstream: [],
      partitions: partitionCount(snapshot),
      rebuild: false,
      rebuildFor: [],
      estimateSeconds: null,
    });
  }
  const order = models.map((m) => m.name).filter((n) => rebuild.has(n));
  const estimates = order.map((n) => planned.find((p) => p.name === n)?.estimateSeconds ?? null);
  return Object.freeze({
    models: Object.freeze(planned),
    rebuild: Object.freeze(order),
    record: Object.freeze(planned.filter((p) => p.change === 'metadata' && !p.rebuild && counts(p.name)).map((p) => p.name)),
    estimateSeconds: estimates.length && estimates.every((e) => e !== null) ? estimates.reduce<number>((a, b) => a + (b ?? 0), 0) : null,
  });
}

/** Whether the plan changes anything (`apply` has work to do). */
export function planHasWork(plan: ModelPlan): boolean {
  return plan.rebuild.length > 0 || plan.record.length > 0;
}

async function describeModel(engine: Engine, model: Model): Promise<{ name: string; type: string }[]> {
  try {
    return await engine.describe(`SELECT * FROM (${embeddableSql(model.sql)})`);
  } catch (error) {
    if (!(error instanceof SqlError)) throw error;
    const reason = error.message.replace(/^Failed to run SQL: /, '').split('\n')[0];
    throw new ModelError(model.name, model.file, undefined, `its SQL failed: ${reason}`, { cause: error });
  }
}

function duckdbColumns(schema: TableSchema): { name: string; type: string }[] {
  return schema.fields.map((f) => ({ name: f.name, type: duckdbTypeOf(f.type) }));
}

function schemaDiff(before: TableSchema, after: readonly { name: string; type: string }[]): { added: string[]; removed: string[]; retyped: RetypedColumn[] } {
  const old = new Map(before.fields.map((f) => [f.name.toLowerCase(), f]));
  const next = new Set(after.map((c) => c.name.toLowerCase()));
  const added: string[] = [];
  const retyped: RetypedColumn[] = [];
  for (const column of after) {
    const field = old.get(column.name.toLowerCase());
    if (!field) {
      added.push(column.name);
      continue;
    }
    const type = deltaTypeOfDuckdb(column.type, column.name);
    if (!sameDeltaType(field.type, type)) retyped.push({ name: column.name, from: deltaTypeText(field.type), to: deltaTypeText(type) });
  }
  const removed = before.fields.filter((f) => !next.has(f.name.toLowerCase())).map((f) => f.name);
  return { added, removed, retyped };
}

function partitionCount(snapshot: Snapshot): number {
  if (snapshot.partitionColumns.length === 0) return snapshot.files.length > 0 ? 1 : 0;
  return new Set(snapshot.files.map((f) => partitionKey(snapshot.partitionColumns, f.partitionValues))).size;
}
