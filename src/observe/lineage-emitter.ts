import type { Model } from '../models/index.js';
import type { ModelOutcome, ModelRunSummary } from '../runner/index.js';
import type { Lake } from '../table/index.js';
import { newRunId, runEvent, type LineageContext, type LineageDataset, type LineageJobType, type LineageRun, type RunEvent } from './lineage-events.js';
import type { LineageSink } from './lineage-sink.js';

/** The columns of a table at a version, for the output schema facet. */
export type SchemaReader = (table: string, version: number) => Promise<readonly { name: string; type: string }[] | undefined>;

/** What a `LineageEmitter` writes to and how. */
export interface LineageEmitterOptions {
  readonly context: LineageContext;
  readonly sinks: readonly LineageSink[];
  /** Applied to each serialized event (credentials never leave the process). */
  readonly redact?: (json: string) => string;
  /** Output schemas; without it events carry no schema facet. */
  readonly schemaOf?: SchemaReader;
  /** The share of ingest batches (0–1) that get events; default 1. */
  readonly sampleIngest?: number;
  readonly random?: () => number;
}

/** A started run: end it once with `complete` or `fail`. */
export interface LineageRunHandle {
  readonly run: LineageRun;
  complete(io?: { inputs?: readonly LineageDataset[]; outputs?: readonly LineageDataset[] }): void;
  fail(error: string, io?: { inputs?: readonly LineageDataset[]; outputs?: readonly LineageDataset[] }): void;
}

/**
 * Turns what lakeloop's commands already report (the runner's model outcomes, ingest
 * summaries, reconcile reports) into OpenLineage RunEvents and writes them to its sinks:
 * START when a run begins, COMPLETE or FAIL (with the error) when it ends. Emitting never
 * throws and never waits; `close()` waits for the sinks.
 *
 * @example
 * const parent = lineage.start('lakeloop.run', 'RUN');
 * const result = await runModels(lake, models, { onModelStart: (m) => lineage.modelStarted(m, parent.run), onOutcome: (o) => lineage.modelOutcome(o, parent.run) });
 * parent.complete();
 */
export class LineageEmitter {
  private readonly pending = new Set<Promise<void>>();
  /** Model name → its started run (and when), until its outcome arrives. */
  private readonly models = new Map<string, { run: LineageRun; startedAt: Date }>();
  private readonly byName: Map<string, Model>;

  constructor(
    private readonly options: LineageEmitterOptions,
    models: readonly Model[] = [],
  ) {
    this.byName = new Map(models.map((m) => [m.name, m]));
  }

  /** Starts a run of a job (emits START) and returns its handle. */
  start(job: string, jobType: LineageJobType, extra: { parent?: LineageRun | undefined; sql?: string | undefined; inputs?: readonly LineageDataset[]; at?: Date; processingType?: 'BATCH' | 'STREAMING' } = {}): LineageRunHandle {
    const run: LineageRun = {
      runId: newRunId(),
      job,
      jobType,
      ...(extra.processingType ? { processingType: extra.processingType } : {}),
      ...(extra.sql !== undefined ? { sql: extra.sql } : {}),
      ...(extra.parent ? { parent: { runId: extra.parent.runId, job: extra.parent.job } } : {}),
    };
    this.emit(runEvent(this.options.context, 'START', run, extra.at ?? new Date(), { inputs: extra.inputs ?? [] }));
    let ended = false;
    const end = (type: 'COMPLETE' | 'FAIL', error: string | undefined, io: { inputs?: readonly LineageDataset[]; outputs?: readonly LineageDataset[] } = {}): void => {
      if (ended) return;
      ended = true;
      this.emitWithSchemas(type, run, new Date(), io, error);
    };
    return { run, complete: (io) => end('COMPLETE', undefined, io), fail: (error, io) => end('FAIL', error, io) };
  }

  /** A model's run begins (the runner's `onModelStart`): START with the tables it reads. */
  modelStarted(model: string, parent?: LineageRun): void {
    const definition = this.byName.get(model);
    const handle = this.start(model, 'MODEL', { parent, sql: definition?.sql, inputs: (definition?.upstream ?? []).map((name) => ({ name })) });
    this.models.set(model, { run: handle.run, startedAt: new Date() });
  }

  /**
   * A model's outcome (the runner's `onOutcome`): COMPLETE with the versions read and the
   * version committed, or FAIL with the error. A model that did not start (its upstream
   * failed) emits nothing; one whose START was not seen gets it now, dated at its start.
   */
  modelOutcome(outcome: ModelOutcome, parent?: LineageRun, options: { processingType?: 'BATCH' | 'STREAMING' } = {}): void {
    if (outcome.status === 'skipped') return;
    let started = this.models.get(outcome.model);
    this.models.delete(outcome.model);
    if (!started) {
      const definition = this.byName.get(outcome.model);
      const at = new Date(Date.now() - outcome.seconds * 1000);
      const handle = this.start(outcome.model, 'MODEL', { parent, sql: definition?.sql, at, inputs: (definition?.upstream ?? []).map((name) => ({ name })), ...options });
      started = { run: handle.run, startedAt: at };
    }
    if (outcome.status === 'error') {
      const inputs = (this.byName.get(outcome.model)?.upstream ?? []).map((name) => ({ name }));
      this.emitWithSchemas('FAIL', started.run, new Date(), { inputs, outputs: [{ name: outcome.model }] }, outcome.error.message);
      return;
    }
    this.emitWithSchemas('COMPLETE', started.run, new Date(), modelDatasets(outcome));
  }

  /** A model's successful run as the streaming loop reports it (no START was seen). */
  modelSummary(summary: ModelRunSummary, parent?: LineageRun): void {
    this.modelOutcome({ ...summary, status: 'ok' }, parent, { processingType: 'STREAMING' });
  }

  /** Whether this ingest batch gets events (`sampleIngest`). */
  sampleIngest(): boolean {
    const share = this.options.sampleIngest ?? 1;
    return share >= 1 || (this.options.random ?? Math.random)() < share;
  }

  /** Waits for the events in flight and closes the sinks. */
  async close(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
    await Promise.all(this.options.sinks.map((s) => s.close()));
  }

  private emitWithSchemas(type: 'COMPLETE' | 'FAIL', run: LineageRun, at: Date, io: { inputs?: readonly LineageDataset[]; outputs?: readonly LineageDataset[] }, error?: string): void {
    const outputs = io.outputs ?? [];
    const reader = this.options.schemaOf;
    const withSchemas = reader && outputs.some((o) => o.version !== undefined && !o.fields)
      ? Promise.all(outputs.map(async (o) => (o.version === undefined || o.fields ? o : { ...o, fields: await reader(o.name, o.version).catch(() => undefined) })))
      : Promise.resolve(outputs);
    const done = withSchemas.then((resolved) => this.emit(runEvent(this.options.context, type, run, at, { inputs: io.inputs ?? [], outputs: resolved, ...(error !== undefined ? { error } : {}) })));
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  private emit(event: RunEvent): void {
    const json = JSON.stringify(event);
    const text = this.options.redact ? this.options.redact(json) : json;
    for (const sink of this.options.sinks) sink.write(text);
  }
}

/** A model run's datasets: the upstream versions read, the version committed with its statistics and test results. */
function modelDatasets(summary: ModelRunSummary): { inputs: LineageDataset[]; outputs: LineageDataset[] } {
  return {
    inputs: Object.entries(summary.upstream).map(([name, version]) => ({ name, version })),
    outputs: [
      {
        name: summary.model,
        version: summary.version,
        statistics: { rowCount: summary.rowsOut },
        assertions: summary.tests.map((t) => ({ assertion: t.test, success: t.status === 'pass' })),
      },
    ],
  };
}

/**
 * The schema reader over a lake: each output's columns at the version committed.
 *
 * @example
 * new LineageEmitter({ context, sinks, schemaOf: lakeSchemaReader(lake) });
 */
export function lakeSchemaReader(lake: Lake): SchemaReader {
  return async (name, version) => {
    const table = await lake.tableIfExists(name);
    if (!table) return undefined;
    const snapshot = await table.snapshot({ version });
    return snapshot.schema.fields.map((f) => ({ name: f.name, type: typeof f.type === 'string' ? f.type : JSON.stringify(f.type) }));
  };
}
