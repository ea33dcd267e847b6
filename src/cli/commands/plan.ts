import type { Contract } from '../../contracts/index.js';
import type { ModelDag } from '../../models/index.js';
import { buildPlan, type ModelPlan, type PlannedModel } from '../../planner/index.js';
import type { CommandContext } from '../command-context.js';
import { plural } from '../human.js';
import type { Session } from '../session.js';
import { selectModelsOrFail } from './model-selection.js';
import { projectModels } from './project-models.js';

export interface PlanOptions {
  /** Selectors of models whose changes are left out. */
  readonly exclude?: readonly string[];
  readonly json?: boolean;
}

/** The project's models, the plan of their changes, and the contracts (for apply's watermarks). */
export async function projectPlan(
  context: CommandContext,
  session: Session,
  selected: readonly string[],
  exclude: readonly string[] = [],
): Promise<{ dag: ModelDag; plan: ModelPlan; contracts: ReadonlyMap<string, Contract> }> {
  const { dag, contracts } = await projectModels(context, session);
  let select: readonly string[] = [];
  if (selected.length || exclude.length) {
    // A silver/gold table no model defines any more (a removed model) can be named too.
    const tables = new Set((await session.lake.tables()).filter((t) => t.startsWith('silver.') || t.startsWith('gold.')));
    select = selectModelsOrFail(dag, selected, exclude, tables).names;
  }
  const plan = await buildPlan(session.lake, session.engine, dag.models, { select });
  return { dag, plan, contracts };
}

/**
 * `lakeloop plan [selectors...] [--exclude selectors...] [--json]`: what differs between the model files and the lake,
 * from the tables' logs only, and what `lakeloop apply` would rebuild. `--json` prints
 * `{ models: [...], rebuild, record, estimateSeconds }` as the last line.
 */
export async function planCommand(selected: readonly string[], options: PlanOptions, context: CommandContext): Promise<ModelPlan> {
  const session = await context.session();
  const { plan } = await projectPlan(context, session, selected, options.exclude);
  if (options.json) context.io.stdout.write(`${JSON.stringify(plan)}\n`);
  else context.io.stdout.write(describePlan(plan));
  return plan;
}

/** The plan as the terminal shows it: one line per changed or rebuilt model, a summary line first. */
export function describePlan(plan: ModelPlan, options: { applying?: boolean } = {}): string {
  const shown = plan.models.filter((m) => m.change !== 'unchanged' || m.rebuild);
  const unchanged = plan.models.length - shown.length;
  if (shown.length === 0) return `no changes: every model matches the version its table was built with${unchanged ? ` (${plural(unchanged, 'model')})` : ''}\n`;
  const estimate = plan.estimateSeconds === null ? '' : ` (estimate ${plan.estimateSeconds.toFixed(1)} s, from the last full builds)`;
  const lines = [`plan: ${plural(plan.rebuild.length, 'model')} to rebuild, ${plural(plan.record.length, 'metadata change')} to record${estimate}`];
  const width = Math.max(...shown.map((m) => m.name.length));
  for (const m of shown) lines.push(`  ${m.name.padEnd(width)}  ${describeModel(m)}`);
  if (unchanged) lines.push(`  ${plural(unchanged, 'other model')} unchanged`);
  if (!options.applying && (plan.rebuild.length || plan.record.length)) lines.push('run `lakeloop apply` to rebuild and publish; until then `run` and `serve` keep the published versions');
  return `${lines.join('\n')}\n`;
}

function describeModel(m: PlannedModel): string {
  const parts: string[] = [];
  if (m.change === 'removed') return `removed: no model file defines it; its table (${plural(m.partitions, 'partition')}) is kept and no longer run (apply does not delete tables)`;
  if (m.change === 'added') parts.push('added: new model, built from scratch');
  else if (m.change === 'unchanged') parts.push(`rebuild: downstream of ${m.rebuildFor.join(', ')}`);
  else if (m.change === 'metadata') parts.push(m.rebuild ? 'metadata: tests/owner/domain/freshness/lateness' : 'metadata: tests/owner/domain/freshness/lateness only, recorded without a rebuild');
  else parts.push(m.change);
  if (m.change !== 'unchanged' && m.rebuildFor.length) parts.push(`also downstream of ${m.rebuildFor.join(', ')}`);
  const { added, removed, retyped } = m.columns;
  const columns = [...added.map((c) => `+${c}`), ...removed.map((c) => `-${c}`), ...retyped.map((c) => `~${c.name} ${c.from} -> ${c.to}`)];
  if (columns.length) parts.push(`columns ${columns.join(', ')}`);
  if (m.partitionBy) parts.push(`partition_by [${m.partitionBy.from.join(', ')}] -> [${m.partitionBy.to.join(', ')}]`);
  if (m.rebuild && m.change !== 'added') parts.push(`rewrites ${plural(m.partitions, 'partition')}`);
  if (m.downstream.length) parts.push(`downstream: ${m.downstream.join(', ')}`);
  if (m.rebuild && m.estimateSeconds !== null) parts.push(`~${m.estimateSeconds.toFixed(1)} s`);
  return parts.join('; ');
}
