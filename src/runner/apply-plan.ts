import { modelFingerprint, modelVersionRecord, type Model } from '../models/index.js';
import { latestProgress, PENDING_REBUILD_KEY, type ModelPlan, type PendingRebuild } from '../planner/index.js';
import type { Lake } from '../table/index.js';
import { runModels, type ModelRunSummary, type RunModelsOptions } from './run-models.js';

/** Options of `applyPlan`. */
export interface ApplyPlanOptions {
  /** Bronze table → its contract's event-time column (the rebuilt models' watermark). */
  readonly eventTimeColumns?: Readonly<Record<string, string>>;
  /** Called as each rebuilt model's commit lands. */
  readonly onModelDone?: (summary: ModelRunSummary) => void;
  /** Passed to `runModels` (lineage: each rebuilt model's start and outcome). */
  readonly onModelStart?: RunModelsOptions['onModelStart'];
  readonly onOutcome?: RunModelsOptions['onOutcome'];
}

/** What `applyPlan` did. */
export interface ApplyResult {
  /** One summary per rebuilt model, in DAG order. */
  readonly rebuilt: readonly ModelRunSummary[];
  /** Models whose metadata-only change was recorded (table version after). */
  readonly recorded: readonly { readonly model: string; readonly version: number }[];
}

/**
 * Applies a plan (`buildPlan`): rebuilds `plan.rebuild` in DAG order with the runner's own
 * full build, from their upstream tables as published (upstream models are not run, so
 * their versions stay as they are), with write-audit-publish and the models' data tests;
 * each rebuilt table is replaced with its new definition (`replaceDefinition`: dropped
 * columns leave, retyped ones change type, a new partition_by re-lays it out) and its
 * commit records the new fingerprint. Metadata-only changes are recorded in an empty
 * commit. A failing model fails the apply (its downstream is not rebuilt); the models
 * rebuilt without it stay published. Before rebuilding anything, each model a breaking
 * upstream change forces is marked as pending a rebuild (`PENDING_REBUILD_KEY`), which its
 * own rebuild clears: a forced rebuild that fails (or never starts) stays in `plan`.
 *
 * @example
 * const result = await applyPlan(lake, plan, dag.models);
 */
export async function applyPlan(lake: Lake, plan: ModelPlan, models: readonly Model[], options: ApplyPlanOptions = {}): Promise<ApplyResult> {
  const wanted = new Set(plan.rebuild);
  await markForcedRebuilds(lake, plan, models);
  const result = await runModels(
    lake,
    models.filter((m) => wanted.has(m.name)),
    {
      fullRefresh: true,
      replaceDefinition: true,
      ...(options.eventTimeColumns ? { eventTimeColumns: options.eventTimeColumns } : {}),
      ...(options.onModelDone ? { onModelDone: options.onModelDone } : {}),
      ...(options.onModelStart ? { onModelStart: options.onModelStart } : {}),
      ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
    },
  );
  // A model that failed (or was skipped behind one) is not applied: the first failure stops the apply.
  const failed = result.failures[0];
  if (failed) throw failed.error;
  const rebuilt = result.summaries;
  const recorded: { model: string; version: number }[] = [];
  for (const name of plan.record) {
    const model = models.find((m) => m.name === name);
    const table = await lake.tableIfExists(name);
    if (!model || !table) continue;
    const snapshot = await table.snapshot();
    const progress = await latestProgress(table);
    // The progress fields carry on, so the next run still knows where it is.
    const lakeloop = { ...(progress ?? { model: name, kind: model.header.kind }), mode: 'metadata', partitions: [], deferred: undefined, modelVersion: modelVersionRecord(model) };
    const result = await table.commit({ readVersion: snapshot.version, operation: 'SET MODEL METADATA', commitInfo: { lakeloop } });
    recorded.push({ model: name, version: result.version });
  }
  return Object.freeze({ rebuilt: Object.freeze(rebuilt), recorded: Object.freeze(recorded) });
}

/**
 * Marks each existing table the plan rebuilds because of an upstream change (`rebuildFor`)
 * with the upstream versions that force it, in its configuration (one metaData commit per
 * table whose mark changes). Written before any rebuild, so a crash or a failure at any point
 * leaves every forced rebuild that did not land listed by `plan`.
 */
async function markForcedRebuilds(lake: Lake, plan: ModelPlan, models: readonly Model[]): Promise<void> {
  for (const planned of plan.models) {
    if (!planned.rebuild || planned.rebuildFor.length === 0) continue;
    const table = await lake.tableIfExists(planned.name);
    if (!table) continue;
    const pending: PendingRebuild[] = planned.rebuildFor.flatMap((name) => {
      const upstream = models.find((m) => m.name === name);
      return upstream ? [{ model: name, fingerprint: modelFingerprint(upstream) }] : [];
    });
    const snapshot = await table.snapshot();
    const text = JSON.stringify(pending);
    if (snapshot.metadata.configuration[PENDING_REBUILD_KEY] === text) continue;
    await table.commit({
      readVersion: snapshot.version,
      metadata: { ...snapshot.metadata, configuration: { ...snapshot.metadata.configuration, [PENDING_REBUILD_KEY]: text } },
      operation: 'SET TBLPROPERTIES',
      commitInfo: { lakeloop: { model: planned.name, mode: 'rebuild-pending', forcedBy: planned.rebuildFor } },
    });
  }
}
