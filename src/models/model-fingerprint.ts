import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { DataTest, ModelDefinition, ModelHeader, ModelKind } from './model.js';
import { MODEL_KINDS } from './model.js';
import { embeddableSql } from './embeddable-sql.js';

/**
 * The header keys that change a model's rows or its table's layout (part of its
 * fingerprint): an edit to one of them needs a rebuild. The others (`lateness`,
 * `max_future_skew`, `owner`, `runbook`, `domain`, `freshness`, `measures`, `tests`) are metadata: they change what a run
 * checks or when it writes, never what a from-scratch build holds.
 */
export interface RowHeader {
  readonly kind: ModelKind;
  readonly partition_by: readonly string[];
  readonly unique_key: readonly string[];
  readonly version_by: string | null;
  readonly delete_when: string | null;
}

/**
 * Which code built a model's table version, as each model commit records it in
 * `commitInfo.lakeloop.modelVersion`: the fingerprint (normalised SQL + row header keys),
 * the metadata fingerprint, the SQL as written and the header, so the lake can rerun the
 * published version of an edited model until its change is applied.
 *
 * @example
 * { fingerprint: '9f2c…', metadata: '41aa…', sql: 'SELECT …', header: { kind: 'full', partition_by: [], … }, meta: { owner: 'team', tests: ['unique(id)'] } }
 */
export interface ModelVersionRecord {
  readonly fingerprint: string;
  readonly metadata: string;
  readonly sql: string;
  readonly header: RowHeader;
  readonly meta: Readonly<Record<string, unknown>>;
  /** Wall-clock start of the run that wrote the commit (epoch ms): commit time − this = how long it took. */
  readonly startedMs?: number | undefined;
}

/**
 * A model's SQL as its fingerprint sees it: comments dropped, whitespace kept only where
 * it separates two words (so `count( * )` and `count(*)` are the same), a trailing `;`
 * dropped. String literals and quoted identifiers are kept exactly.
 *
 * @example
 * normalizeSql('SELECT a, -- why\n count( * )\nFROM t;') // 'SELECT a,count(*)FROM t'
 */
export function normalizeSql(sql: string): string {
  let out = '';
  let pendingSpace = false;
  const emit = (text: string): void => {
    if (pendingSpace && out !== '' && isWord(out.charAt(out.length - 1)) && isWord(text.charAt(0))) out += ' ';
    pendingSpace = false;
    out += text;
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql.charAt(i);
    if (c === '-' && sql.charAt(i + 1) === '-') {
      while (i < sql.length && sql.charAt(i) !== '\n') i++;
      pendingSpace = true;
    } else if (c === '/' && sql.charAt(i + 1) === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      pendingSpace = true;
    } else if (/\s/.test(c)) {
      i++;
      pendingSpace = true;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      for (; j < sql.length; j++) {
        if (sql.charAt(j) === c) {
          if (sql.charAt(j + 1) === c) j++;
          else break;
        }
      }
      emit(sql.slice(i, j + 1));
      i = j + 1;
    } else {
      emit(c);
      i++;
    }
  }
  return out.replace(/;+$/, '');
}

function isWord(c: string): boolean {
  return /[A-Za-z0-9_$]/.test(c);
}

/** The row-changing header keys of a model, in their file spelling. */
export function rowHeaderOf(header: ModelHeader): RowHeader {
  return {
    kind: header.kind,
    partition_by: [...header.partitionBy],
    unique_key: [...header.uniqueKey],
    version_by: header.versionBy ?? null,
    delete_when: header.deleteWhen ?? null,
  };
}

/** The metadata header keys (no rebuild when only they change). */
function metaOf(header: ModelHeader): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  if (header.lateness !== undefined) meta['lateness'] = header.lateness;
  if (header.maxFutureSkew !== undefined) meta['max_future_skew'] = header.maxFutureSkew;
  if (header.owner !== undefined) meta['owner'] = header.owner;
  if (header.runbook !== undefined) meta['runbook'] = header.runbook;
  if (header.domain !== undefined) meta['domain'] = header.domain;
  if (header.freshness !== undefined) meta['freshness'] = header.freshness;
  if (header.completeness !== undefined) meta['completeness'] = { max_pending_late_rows: header.completeness.maxPendingLateRows ?? null, exact_after: header.completeness.exactAfter ?? null };
  if (header.measures !== undefined) meta['measures'] = [...header.measures];
  if (header.tests.length) meta['tests'] = header.tests.map(testIdentity);
  return meta;
}

function testIdentity(test: DataTest): string {
  const base = test.kind === 'sql' ? `sql(${normalizeSql(test.sql)})` : test.name;
  return test.severity === 'error' ? base : `${base} [${test.severity}]`;
}

function sha256(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/**
 * A model's fingerprint: SHA-256 of its normalised SQL and its row header keys. Equal
 * fingerprints build equal tables from equal upstream; comments and whitespace do not count.
 *
 * @example
 * modelFingerprint(model) // '3b9d…' (64 hex digits)
 */
export function modelFingerprint(model: Pick<ModelDefinition, 'sql' | 'header'>): string {
  return fingerprintOf(model.sql, rowHeaderOf(model.header));
}

function fingerprintOf(sql: string, header: RowHeader): string {
  const norm = (v: string | null): string | null => (v === null ? null : normalizeSql(v));
  return sha256({ sql: normalizeSql(sql), header: { ...header, version_by: norm(header.version_by), delete_when: norm(header.delete_when) } });
}

/** What a model commit records about the code that built it (see `ModelVersionRecord`). */
export function modelVersionRecord(model: Pick<ModelDefinition, 'sql' | 'header'>, startedMs?: number): ModelVersionRecord {
  const meta = metaOf(model.header);
  return {
    fingerprint: modelFingerprint(model),
    metadata: sha256(meta),
    sql: model.sql,
    header: rowHeaderOf(model.header),
    meta,
    ...(startedMs !== undefined ? { startedMs } : {}),
  };
}

const RecordSchema = z.object({
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  metadata: z.string(),
  sql: z.string(),
  header: z.object({
    kind: z.enum(MODEL_KINDS),
    partition_by: z.array(z.string()),
    unique_key: z.array(z.string()),
    version_by: z.string().nullable(),
    delete_when: z.string().nullable(),
  }),
  meta: z.record(z.string(), z.unknown()),
  startedMs: z.number().optional(),
});

/** The model version a commit recorded (`commitInfo.lakeloop.modelVersion`), when it has a valid one. */
export function modelVersionOf(commitInfo: Readonly<Record<string, unknown>> | undefined): ModelVersionRecord | undefined {
  const lakeloop = commitInfo?.['lakeloop'];
  if (!lakeloop || typeof lakeloop !== 'object') return undefined;
  const parsed = RecordSchema.safeParse((lakeloop as Record<string, unknown>)['modelVersion']);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The model as a recorded version built it: its SQL and row header keys from the record,
 * everything else (file, metadata keys, tests) from `current`. The caller fills in its
 * upstream tables (the published SQL may read others).
 */
export function publishedDefinition<M extends ModelDefinition>(current: M, record: ModelVersionRecord): M {
  const header: ModelHeader = Object.freeze({
    ...current.header,
    kind: record.header.kind,
    partitionBy: Object.freeze([...record.header.partition_by]),
    uniqueKey: Object.freeze([...record.header.unique_key]),
    versionBy: record.header.version_by ?? undefined,
    deleteWhen: record.header.delete_when ?? undefined,
  });
  // Errors in it blame the version recorded in the lake, not the file as it is now.
  return Object.freeze({ ...current, file: `${current.file} (published version)`, sql: embeddableSql(record.sql), header, text: record.sql, sqlOffset: 0 });
}
