import { randomUUID } from 'node:crypto';
import { CommitConflict, LakeloopError, SqlError } from '../core/index.js';
import { quoteIdent } from '../engine/index.js';
import { lineAt, modelFingerprint, ModelError, type Model } from '../models/index.js';
import { PENDING_REBUILD_KEY } from '../planner/index.js';
import { parseStats, type AddAction, type DeltaTable, type Lake, type Snapshot } from '../table/index.js';

/**
 * The latest row per `unique_key` of `relation` (by `version_by`, newest first), without
 * the rows `delete_when` marks as deleted: what an `incremental_by_key` model holds.
 */
export function keyDedupSql(model: Model, relation: string): string {
  const keys = model.header.uniqueKey.map(quoteIdent).join(', ');
  const order = versionOrder(model);
  const deleted = model.header.deleteWhen ? `WHERE NOT coalesce((${model.header.deleteWhen}), false)` : '';
  return `SELECT * FROM (SELECT * FROM ${relation} AS _lakeloop_rows QUALIFY row_number() OVER (PARTITION BY ${keys}${order ? ` ORDER BY ${order}` : ''}) = 1) ${deleted}`;
}

/** `version_by` as an ORDER BY list, newest first (`a, b` → `"a" DESC NULLS LAST, "b" DESC NULLS LAST`). */
export function versionOrder(model: Model, extra: readonly string[] = []): string {
  const columns = (model.header.versionBy ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  return [...columns.map((c) => `${quoteIdent(c)} DESC NULLS LAST`), ...extra].join(', ');
}

/** How a null partition value travels through the plan's string lists. */
export const NULL_PARTITION = '\u0000null';

/** Rows in some files, from their stats. */
export function rowsOf(files: readonly AddAction[]): number {
  return files.reduce((sum, f) => sum + (parseStats(f)?.numRecords ?? 0), 0);
}

/** The boundary where a model's own SQL fails: blame the model's file, keep the cause. */
export async function userSql<T>(model: Model, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SqlError) {
      const reason = error.message.replace(/^Failed to run SQL: /, '');
      const line = /LINE (\d+):/.exec(reason)?.[1];
      const fileLine = line === undefined ? undefined : lineAt(model.text, model.sqlOffset) + Number(line) - 1;
      throw new ModelError(model.name, model.file, fileLine, `its SQL failed: ${reason.split('\n')[0]}`, { cause: error });
    }
    if (error instanceof LakeloopError) throw error;
    throw error;
  }
}


/** Creates a model's table from its result's columns, partitioned by its `partition_by`. */
export function createModelTable(lake: Lake, model: Model, columns: readonly { name: string; type: string }[]): Promise<DeltaTable> {
  return lake.createTable(model.name, {
    columns,
    ...(model.header.partitionBy.length ? { partitionColumns: model.header.partitionBy } : {}),
    description: `model ${model.name} (${model.file})`,
  });
}

/** Table configuration keys a rebuild (`apply`, `run --full-refresh`) stamps: the fingerprint it built, and an id of the rebuild. */
const BUILT_FINGERPRINT = 'lakeloop.model.fingerprint';
const BUILD_ID = 'lakeloop.model.build';

/** The configuration a model's rebuild (`replaceDefinition`) merges into its table's: see `definitionGuard`. */
export function rebuildConfiguration(model: Model): Record<string, string | null> {
  // A rebuild is the forced rebuild apply may have left pending (`PENDING_REBUILD_KEY`): done.
  return { [BUILT_FINGERPRINT]: modelFingerprint(model), [BUILD_ID]: randomUUID(), [PENDING_REBUILD_KEY]: null };
}

/**
 * The precondition of a model's incremental or streaming write (`WriteOptions.precondition`),
 * given the table as its run read it (`base`): the table must not have been rebuilt since
 * (same build id), nor by other code than this run's (the rebuild's fingerprint, when one
 * is recorded). Otherwise this run planned its rows on a table that is gone, or runs code
 * that is no longer published (`serve` chose its models before an `apply` landed): it
 * would leave the old logic's rows in the rebuilt table, so it fails with a conflict and
 * the next run reads the new definition. A rebuild that lands after the check makes the
 * commit conflict (its metaData).
 */
export function definitionGuard(model: Model, base: Snapshot): (snapshot: Snapshot) => void {
  const build = base.metadata.configuration[BUILD_ID];
  const fingerprint = modelFingerprint(model);
  return (snapshot) => {
    const configuration = snapshot.metadata.configuration;
    const built = configuration[BUILT_FINGERPRINT];
    if (configuration[BUILD_ID] === build && (built === undefined || built === fingerprint)) return;
    const reason = built !== undefined && built !== fingerprint ? 'it was rebuilt with another version of the model (lakeloop apply)' : 'it was rebuilt (lakeloop apply or run --full-refresh)';
    throw new CommitConflict(model.name, base.version + 1, snapshot.version, `${reason} after this run read it at version ${base.version}; the next run reads the new version`);
  };
}
