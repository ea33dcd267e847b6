import { createInterface } from 'node:readline/promises';
import { UsageError } from '../../core/index.js';
import { planHasWork } from '../../planner/index.js';
import { applyPlan, type ApplyResult } from '../../runner/index.js';
import { openCatalogEarly, refreshCatalog } from '../catalog-refresh.js';
import type { CommandContext } from '../command-context.js';
import { plural } from '../human.js';
import { openLineage } from '../observe-setup.js';
import { describePlan, projectPlan } from './plan.js';
import { ensureUpstreamBronze, eventTimeColumnsOf } from './project-models.js';

export interface ApplyOptions {
  /** Selectors of models whose changes are left out. */
  readonly exclude?: readonly string[];
  readonly yes?: boolean;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

/**
 * `lakeloop apply [selectors...] [--exclude selectors...] [--yes] [--dry-run]`: shows the plan, asks (on a terminal,
 * unless `--yes`), then rebuilds the changed models and the models their breaking changes
 * force, from their upstream tables as published, tests and publishes them, and records
 * metadata-only changes. Without a terminal and without `--yes` it refuses (exit 2).
 */
export async function applyCommand(selected: readonly string[], options: ApplyOptions, context: CommandContext): Promise<ApplyResult | undefined> {
  const { io } = context;
  const session = await context.session();
  const { dag, plan, contracts } = await projectPlan(context, session, selected, options.exclude);
  if (!options.json || options.dryRun) io.stdout.write(describePlan(plan, { applying: !options.dryRun }));
  if (options.dryRun || !planHasWork(plan)) {
    if (options.json) io.stdout.write(`${JSON.stringify({ plan, applied: false })}\n`);
    return undefined;
  }
  if (!options.yes) {
    const interactive = context.ownsProcess && process.stdin.isTTY === true && io.stdout.isTTY === true;
    if (!interactive) throw new UsageError('apply changes tables and needs a confirmation', 'Review `lakeloop plan`, then run `lakeloop apply --yes` (or apply on a terminal to be asked).');
    const prompt = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await prompt.question(`rebuild ${plural(plan.rebuild.length, 'model')}${plan.record.length ? ` and record ${plural(plan.record.length, 'metadata change')}` : ''}? [y/N] `).finally(() => prompt.close());
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.stdout.write('nothing applied\n');
      return undefined;
    }
  }
  const rebuilt = new Set(plan.rebuild);
  await ensureUpstreamBronze(session, contracts, dag.models.filter((m) => rebuilt.has(m.name)));
  const eventTimeColumns = eventTimeColumnsOf(contracts);
  const lineage = openLineage(context, await context.config(), session.lake, dag.models);
  const parent = lineage?.start('lakeloop.apply', 'APPLY');
  // As `run` does: the catalog's copy is opened while the models rebuild, each view rebound as its model commits.
  const catalog = openCatalogEarly(session);
  let result: ApplyResult;
  try {
    result = await applyPlan(session.lake, plan, dag.models, {
      eventTimeColumns,
      onModelStart: (model) => lineage?.modelStarted(model, parent?.run),
      onOutcome: (outcome) => lineage?.modelOutcome(outcome, parent?.run),
      onModelDone: (s) => {
        void catalog.then((copy) => copy?.rebindSoon(session.lake, s.model));
        if (!options.json) io.stdout.write(`applied ${s.model}: ${plural(s.rows, 'row')}, ${plural(s.files, 'file')}, ${s.seconds.toFixed(2)} s (version ${s.version})\n`);
      },
    });
  } catch (error) {
    parent?.fail(error instanceof Error ? error.message : String(error));
    // Models rebuilt before the failure are published: the catalog shows them too.
    await refreshCatalog(context, session, catalog, dag.models);
    throw error;
  }
  parent?.complete({ outputs: result.recorded.map((r) => ({ name: r.model, version: r.version })) });
  if (!options.json) for (const r of result.recorded) io.stdout.write(`recorded ${r.model} metadata (version ${r.version})\n`);
  await refreshCatalog(context, session, catalog, dag.models);
  if (options.json) io.stdout.write(`${JSON.stringify({ plan, applied: true, rebuilt: result.rebuilt, recorded: result.recorded })}\n`);
  return result;
}
