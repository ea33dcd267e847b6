import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

/** The `producer` of every event lakeloop emits (and the `_producer` of its facets). */
export const LINEAGE_PRODUCER = 'https://github.com/lakeloop/lakeloop';

/** The OpenLineage spec version lakeloop's events follow. */
export const OPENLINEAGE_SCHEMA_URL = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';

/** Each facet's `_schemaURL`: its spec file (by version) and definition. */
const FACET_SCHEMAS = {
  parent: 'https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet',
  processingEngine: 'https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet',
  errorMessage: 'https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet',
  sql: 'https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet',
  jobType: 'https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet',
  version: 'https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet',
  schema: 'https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet',
  dataQualityAssertions: 'https://openlineage.io/spec/facets/1-1-0/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet',
  outputStatistics: 'https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet',
} as const;

/** An OpenLineage RunEvent (spec 2-0-2), as lakeloop emits it: plain JSON. */
export interface RunEvent {
  readonly eventType: 'START' | 'COMPLETE' | 'FAIL' | 'ABORT';
  readonly eventTime: string;
  readonly producer: string;
  readonly schemaURL: string;
  readonly run: { readonly runId: string; readonly facets: Record<string, unknown> };
  readonly job: { readonly namespace: string; readonly name: string; readonly facets: Record<string, unknown> };
  readonly inputs: readonly Record<string, unknown>[];
  readonly outputs: readonly Record<string, unknown>[];
}

/** What kind of work a lineage job is (the job-type facet's `jobType`). */
export type LineageJobType = 'RUN' | 'MODEL' | 'INGEST' | 'RECONCILE' | 'REPLAY' | 'APPLY';

/** A table a run read or wrote, with what is known of it. */
export interface LineageDataset {
  /** `layer.table`, e.g. `gold.daily`. */
  readonly name: string;
  /** The Delta version read (an input) or committed (an output). */
  readonly version?: number | undefined;
  /** Outputs: the table's columns after the run. */
  readonly fields?: readonly { readonly name: string; readonly type: string }[] | undefined;
  /** Outputs: rows, bytes and files this run wrote. */
  readonly statistics?: { readonly rowCount: number; readonly size?: number; readonly fileCount?: number } | undefined;
  /** Outputs: the data tests run on the written rows (write-audit-publish: before the commit). */
  readonly assertions?: readonly { readonly assertion: string; readonly success: boolean; readonly column?: string }[] | undefined;
}

/** One run of a lineage job: its id, its job, what kind it is, and the run it belongs to. */
export interface LineageRun {
  readonly runId: string;
  /** The job's name, e.g. `gold.daily`, `lakeloop.run`, `ingest.sales`. */
  readonly job: string;
  readonly jobType: LineageJobType;
  readonly processingType?: 'BATCH' | 'STREAMING';
  /** A model's SELECT. */
  readonly sql?: string | undefined;
  /** The run that started this one (a model inside `lakeloop run`). */
  readonly parent?: { readonly runId: string; readonly job: string } | undefined;
}

/** Where an event's names come from: the dataset namespace (the lake root) and the jobs' namespace. */
export interface LineageContext {
  /** The lake root as a URI: `file:///abs/lake` or `s3://bucket/prefix`. */
  readonly datasetNamespace: string;
  /** Default `lakeloop`. */
  readonly jobNamespace: string;
  /** lakeloop's version (the processing-engine facet). */
  readonly engineVersion: string;
}

/**
 * The dataset namespace of a lake root: an absolute directory becomes a `file://` URI,
 * `s3://bucket/prefix` stays as it is.
 *
 * @example
 * lakeNamespace('/data/lake'); // 'file:///data/lake'
 */
export function lakeNamespace(root: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(root) ? root.replace(/\/+$/, '') : pathToFileURL(root).href;
}

/** A fresh run id (a UUID, as the spec requires). */
export function newRunId(): string {
  return randomUUID();
}

/**
 * Builds one OpenLineage RunEvent: the run (with parent, processing-engine and, on FAIL,
 * error-message facets), the job (job-type and SQL facets), and the datasets with their
 * Delta versions (dataset-version facet), output schema, statistics and data-test results.
 *
 * @example
 * runEvent(context, 'COMPLETE', { runId, job: 'gold.daily', jobType: 'MODEL', sql }, new Date(), {
 *   inputs: [{ name: 'silver.sales', version: 4 }], outputs: [{ name: 'gold.daily', version: 7 }],
 * });
 */
export function runEvent(
  context: LineageContext,
  eventType: RunEvent['eventType'],
  run: LineageRun,
  at: Date,
  io: { readonly inputs?: readonly LineageDataset[]; readonly outputs?: readonly LineageDataset[]; readonly error?: string } = {},
): RunEvent {
  const runFacets: Record<string, unknown> = {
    processing_engine: facet('processingEngine', { name: 'lakeloop', version: context.engineVersion, openlineageAdapterVersion: context.engineVersion }),
  };
  if (run.parent) {
    runFacets['parent'] = facet('parent', { run: { runId: run.parent.runId }, job: { namespace: context.jobNamespace, name: run.parent.job } });
  }
  if (eventType === 'FAIL' && io.error !== undefined) runFacets['errorMessage'] = facet('errorMessage', { message: io.error, programmingLanguage: run.sql ? 'SQL' : 'TypeScript' });
  const jobFacets: Record<string, unknown> = {
    jobType: facet('jobType', { processingType: run.processingType ?? 'BATCH', integration: 'LAKELOOP', jobType: run.jobType }),
  };
  if (run.sql !== undefined) jobFacets['sql'] = facet('sql', { query: run.sql, dialect: 'duckdb' });
  return {
    eventType,
    eventTime: at.toISOString(),
    producer: LINEAGE_PRODUCER,
    schemaURL: OPENLINEAGE_SCHEMA_URL,
    run: { runId: run.runId, facets: runFacets },
    job: { namespace: context.jobNamespace, name: run.job, facets: jobFacets },
    inputs: (io.inputs ?? []).map((d) => dataset(context, d, false)),
    outputs: (io.outputs ?? []).map((d) => dataset(context, d, true)),
  };
}

function dataset(context: LineageContext, d: LineageDataset, output: boolean): Record<string, unknown> {
  const facets: Record<string, unknown> = {};
  if (d.version !== undefined) facets['version'] = facet('version', { datasetVersion: String(d.version) });
  if (d.fields) facets['schema'] = facet('schema', { fields: d.fields.map((f, i) => ({ name: f.name, type: f.type, ordinal_position: i + 1 })) });
  // The tests audit the version this run commits, so they describe the output dataset.
  if (d.assertions?.length) facets['dataQualityAssertions'] = facet('dataQualityAssertions', { assertions: d.assertions.map((a) => ({ ...a })) });
  const base: Record<string, unknown> = { namespace: context.datasetNamespace, name: d.name, facets };
  if (output && d.statistics) base['outputFacets'] = { outputStatistics: facet('outputStatistics', { ...d.statistics }) };
  return base;
}

function facet(kind: keyof typeof FACET_SCHEMAS, fields: Record<string, unknown>): Record<string, unknown> {
  return { _producer: LINEAGE_PRODUCER, _schemaURL: FACET_SCHEMAS[kind], ...fields };
}
