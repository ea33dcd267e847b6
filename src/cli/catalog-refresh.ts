import { join } from 'node:path';
import { CATALOG_FILE, CatalogCopy, type PartitionStatusRecord } from '../query/index.js';
import type { CommandContext } from './command-context.js';
import type { Session } from './session.js';
import type { Model } from '../models/index.js';
import { projectModels } from './commands/project-models.js';
import { lakePartitionStatus, partitionStatusRecords } from './partition-status.js';

/**
 * Regenerates `<lake>/catalog.duckdb` after a verb committed something, on a local lake
 * (where the views can name the files). A failure here never fails the verb: the data is
 * committed; the message says how to retry. `opened` is a copy the verb opened early
 * (`openCatalogEarly`). `models` are the project's model files, when the verb loaded them
 * (the catalog's `lakeloop.partition_status` compares tables with them).
 */
export async function refreshCatalog(context: CommandContext, session: Session, opened?: Promise<CatalogCopy | undefined>, models?: readonly Model[]): Promise<void> {
  const path = catalogPath(session);
  if (path === undefined) return;
  try {
    const copy = (await opened) ?? (await CatalogCopy.open(path));
    const { tables, rebound } = await copy.publish(session.lake, { partitionStatus: () => catalogPartitionStatus(context, session, models) });
    context.verbose(`catalog: ${path} (${tables} tables, ${rebound} views rebound)`);
  } catch (error) {
    context.io.stderr.write(`warning: could not refresh ${path}: ${error instanceof Error ? error.message : String(error)} (run the command again to retry)\n`);
  }
}

/**
 * Starts copying and opening the catalog while the verb works, so that only rebinding is
 * left when it is done (undefined: no catalog for this lake, or the copy failed, in which
 * case `refreshCatalog` tries again). Pass it to `refreshCatalog`.
 */
export function openCatalogEarly(session: Session): Promise<CatalogCopy | undefined> {
  const path = catalogPath(session);
  return path === undefined ? Promise.resolve(undefined) : CatalogCopy.open(path).catch(() => undefined);
}

/** `<lake>/catalog.duckdb` of a local lake; undefined for S3 (the views name local paths). */
export function catalogPath(session: Pick<Session, 'config'>): string | undefined {
  const location = session.config.lake.location;
  return location.kind === 'local' ? join(location.path, CATALOG_FILE) : undefined;
}

/**
 * The rows of the catalog's `lakeloop.partition_status` (none when the project's models do
 * not load); undefined when computing them failed, which leaves the table as it was and
 * never fails the refresh of the views.
 */
async function catalogPartitionStatus(context: CommandContext, session: Session, known?: readonly Model[]): Promise<PartitionStatusRecord[] | undefined> {
  const started = performance.now();
  const models =
    known ??
    (await projectModels(context, session).then(
      (p) => p.dag.models,
      () => [],
    ));
  const loaded = performance.now();
  let rows: PartitionStatusRecord[];
  try {
    rows = partitionStatusRecords(await lakePartitionStatus(session.lake, session.engine, models));
  } catch (error) {
    context.io.stderr.write(`warning: could not compute the partition status for the catalog: ${error instanceof Error ? error.message : String(error)}\n`);
    return undefined;
  }
  context.verbose(`catalog: partition status of ${rows.length} partitions in ${(performance.now() - loaded).toFixed(0)} ms (models loaded in ${(loaded - started).toFixed(0)} ms)`);
  return rows;
}
