import { join } from 'node:path';
import { CATALOG_FILE, writeCatalog } from '../query/index.js';
import type { CommandContext } from './command-context.js';
import type { Session } from './session.js';

/**
 * Regenerates `<lake>/catalog.duckdb` after a verb committed something, on a local lake
 * (where the views can name the files). A failure here never fails the verb: the data is
 * committed; the message says how to retry.
 */
export async function refreshCatalog(context: CommandContext, session: Session): Promise<void> {
  const location = session.config.lake.location;
  if (location.kind !== 'local') return;
  const path = join(location.path, CATALOG_FILE);
  try {
    const { tables, rebound } = await writeCatalog(session.lake, path);
    context.verbose(`catalog: ${path} (${tables} tables, ${rebound} views rebound)`);
  } catch (error) {
    context.io.stderr.write(`warning: could not refresh ${path}: ${error instanceof Error ? error.message : String(error)} (run the command again to retry)\n`);
  }
}
