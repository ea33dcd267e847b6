import type { Engine } from '../engine/index.js';
import { modelFingerprint, modelVersionOf, publishedDefinition, type Model, type ModelVersionRecord } from '../models/index.js';
import type { DeltaTable, Lake, Snapshot } from '../table/index.js';
import { classifyEdit, type ModelChangeKind } from './change-classifier.js';

/**
 * The model version a table's log says is published: the newest commit that recorded one
 * (`commitInfo.lakeloop.modelVersion`), its table version and when it was committed, and
 * how long the newest full build recorded took (for estimates).
 */
export interface PublishedVersion {
  readonly record: ModelVersionRecord;
  /** The table version of the commit that recorded it. */
  readonly version: number;
  readonly timestampMs: number;
  /** Seconds the newest full build (first run, --full-refresh, apply) took, when a commit recorded it. */
  readonly fullBuildSeconds: number | undefined;
}

/**
 * How far back the log is read for a version record, in steps (newest first; each step
 * reuses the commits the last one read). Every model commit carries one, so the newest
 * usually does; with `estimate`, the first step is wider, to find the last full build too.
 */
const SEARCH_STEPS = [1, 16, 256, Number.MAX_SAFE_INTEGER];
const ESTIMATE_STEPS = [16, 256, Number.MAX_SAFE_INTEGER];

/** `commitInfo.lakeloop.mode` of the runner's own commits (every one records its model version since fingerprints exist). */
const RUN_MODES = new Set(['stream', 'full']);

/**
 * The published model version of a model's table, read from its log only (no data), newest
 * commit first: the first one that recorded a version. Undefined when a run's commit
 * (`stream`/`full`) without one comes first, or none has one: a table built before
 * fingerprints, whose file is adopted. Other commits (compaction, reconcile, schema) are
 * passed over, so the search usually ends at the newest commit.
 *
 * @example
 * (await publishedVersion(await lake.table('gold.daily')))?.record.fingerprint // '3b9d…'
 * (await publishedVersion(table, { estimate: true }))?.fullBuildSeconds // 1.8
 */
export async function publishedVersion(table: DeltaTable, options: { estimate?: boolean } = {}): Promise<PublishedVersion | undefined> {
  let scanned = 0;
  for (const limit of options.estimate ? ESTIMATE_STEPS : SEARCH_STEPS) {
    const commits = await table.history({ limit });
    let found: PublishedVersion | undefined;
    let fullBuildSeconds: number | undefined;
    let legacy = false;
    for (const commit of commits) {
      const record = modelVersionOf(commit.commitInfo);
      const mode = (commit.commitInfo as { lakeloop?: { mode?: unknown } }).lakeloop?.mode;
      if (!record) {
        // A run's commit without a version was written before fingerprints: nothing older has one.
        if (!found && RUN_MODES.has(String(mode))) legacy = true;
        if (legacy) break;
        continue;
      }
      if (fullBuildSeconds === undefined && mode === 'full' && record.startedMs !== undefined) {
        fullBuildSeconds = Math.max(0, (commit.timestampMs - record.startedMs) / 1000);
      }
      found ??= { record, version: commit.version, timestampMs: commit.timestampMs, fullBuildSeconds: undefined };
      if (fullBuildSeconds !== undefined || !options.estimate) break;
    }
    if (found) return { ...found, fullBuildSeconds };
    if (legacy) return undefined;
    if (commits.length <= scanned || commits.length < limit) return undefined;
    scanned = commits.length;
  }
  return undefined;
}

/** A model whose file differs from its published version: runs keep the published one until `lakeloop apply`. */
export interface PendingChange {
  readonly model: string;
  readonly change: ModelChangeKind;
}

/**
 * The models a run should execute: each model as its table's published version built it
 * when the file's fingerprint differs (the edit waits for `lakeloop apply`), else as its
 * file says (unchanged, metadata-only edits, new models, and tables built before
 * fingerprints, whose file is adopted). `pending` lists the held-back edits, classified
 * (none with `classify: false`).
 *
 * @example
 * const { models, pending } = await publishedModels(lake, engine, dag.models);
 * // pending: [{ model: 'gold.daily', change: 'breaking' }]
 */
export async function publishedModels(
  lake: Lake,
  engine: Engine,
  models: readonly Model[],
  options: { readonly classify?: boolean } = {},
): Promise<{ models: Model[]; pending: PendingChange[] }> {
  const out: Model[] = [];
  const pending: PendingChange[] = [];
  for (const model of models) {
    const table = await lake.tableIfExists(model.name);
    const published = table ? await publishedVersion(table) : undefined;
    if (!published || published.record.fingerprint === modelFingerprint(model)) {
      out.push(model);
      continue;
    }
    // Classifying parses both SQLs in DuckDB: a caller that only runs the models (serve's loop) skips it.
    if (options.classify !== false) pending.push({ model: model.name, change: await classifyEdit(engine, published.record, model) });
    out.push(await withUpstream(engine, publishedDefinition(model, published.record), model));
  }
  return { models: out, pending };
}

const LAKE_LAYERS = new Set(['bronze', 'silver', 'gold', 'quarantine']);

/** The published definition with the lake tables its own SQL reads (its upstream may differ from the file's). */
async function withUpstream(engine: Engine, definition: Model, current: Model): Promise<Model> {
  const refs = await engine.tableRefs(definition.sql).catch(() => undefined);
  if (!refs) return definition;
  const upstream = [...new Set(refs.filter((r) => r.catalog === '' && LAKE_LAYERS.has(r.schema.toLowerCase())).map((r) => `${r.schema.toLowerCase()}.${r.name}`))].sort();
  return upstream.join('\0') === current.upstream.join('\0') ? definition : Object.freeze({ ...definition, upstream: Object.freeze(upstream) });
}

/**
 * Table configuration key of a forced rebuild still pending: set by `apply` on each model a
 * breaking upstream change forces to rebuild, before it rebuilds anything, and removed by
 * the model's own rebuild (apply, `run --full-refresh`). It lives in the table's metaData,
 * so every later commit (streaming, reconcile, compaction) keeps it: a forced rebuild that
 * failed stays listed by `plan` until it is done.
 */
export const PENDING_REBUILD_KEY = 'lakeloop.model.pendingRebuild';

/** An upstream model whose applied change forces a table's rebuild: its name and the fingerprint apply published for it. */
export interface PendingRebuild {
  readonly model: string;
  readonly fingerprint: string;
}

/**
 * The forced rebuilds a table's snapshot says are pending (`PENDING_REBUILD_KEY`).
 *
 * @example
 * pendingRebuildsOf(await table.snapshot()) // [{ model: 'silver.sales', fingerprint: '3b9d…' }]
 */
export function pendingRebuildsOf(snapshot: Snapshot): PendingRebuild[] {
  const text = snapshot.metadata.configuration[PENDING_REBUILD_KEY];
  if (!text) return [];
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.filter((p): p is PendingRebuild => typeof p?.model === 'string' && typeof p?.fingerprint === 'string');
  } catch {
    return [];
  }
}

/**
 * The pending forced rebuilds that still hold: those whose upstream model's published version
 * is the one that forced them (an upstream whose rebuild did not land, or that was changed
 * again since, forces the rebuild through its own plan entry, if at all).
 */
export async function heldRebuilds(lake: Lake, snapshot: Snapshot): Promise<PendingRebuild[]> {
  const held: PendingRebuild[] = [];
  for (const pending of pendingRebuildsOf(snapshot)) {
    const upstream = await lake.tableIfExists(pending.model);
    const published = upstream ? await publishedVersion(upstream) : undefined;
    if (published?.record.fingerprint === pending.fingerprint) held.push(pending);
  }
  return held;
}
