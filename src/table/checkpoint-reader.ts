import { ObjectNotFound, SqlError, TableCorrupt } from '../core/index.js';
import { Engine } from '../engine/index.js';
import { quoteLiteral, quotePaths } from '../engine/index.js';
import type { ObjectStore } from '../storage/index.js';
import { addAction, emptyActions, type ParsedActions } from './actions.js';
import type { CheckpointCache } from './checkpoint-cache.js';
import type { CheckpointFiles } from './log-files.js';

const ACTION_COLUMNS = ['protocol', 'metaData', 'txn', 'add', 'remove'] as const;

/**
 * Reads a (possibly multi-part) Parquet checkpoint through DuckDB. Each action column is
 * rendered with `to_json`, which turns Parquet MAPs into JSON objects, then validated like
 * a JSON commit. A checkpoint that is missing or does not parse is `TableCorrupt`. With a
 * `cache`, the rendered lines are kept locally, and a later read of the same checkpoint
 * objects parses them without DuckDB (validated the same way).
 */
export async function readCheckpoint(
  context: { readonly store: ObjectStore; readonly engine: Engine; readonly table: string; readonly cache?: CheckpointCache | undefined },
  checkpoint: CheckpointFiles,
): Promise<ParsedActions> {
  const { store, cache } = context;
  // The lines depend on the columns read and on how this DuckDB renders them.
  const entry = cache?.entryId(store.description, checkpoint.objects, `${ACTION_COLUMNS.join(',')}\0${Engine.duckdbVersion()}`);
  const cached = entry === undefined ? undefined : await cache?.get(entry);
  if (cached !== undefined) {
    // An entry that does not parse is only a miss: the checkpoint itself decides.
    try {
      return parseCheckpointLines(context.table, checkpoint, cached);
    } catch {}
  }
  const lines = await renderCheckpoint(context, checkpoint);
  const parsed = parseCheckpointLines(context.table, checkpoint, lines);
  if (entry !== undefined) await cache?.put(entry, lines);
  return parsed;
}

function parseCheckpointLines(table: string, checkpoint: CheckpointFiles, lines: readonly string[]): ParsedActions {
  const source = { table, version: checkpoint.version, file: checkpoint.objects[0]?.key ?? '' };
  const parsed = emptyActions();
  lines.forEach((line, index) => {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new TableCorrupt(table, checkpoint.version, `checkpoint row ${index + 1} is unreadable`, { cause: error });
    }
    addAction(parsed, record as Record<string, unknown>, source, `checkpoint row ${index + 1}`);
  });
  if (!parsed.protocol || !parsed.metaData) {
    throw new TableCorrupt(table, checkpoint.version, `checkpoint ${keysOf(checkpoint).join(', ')} has no protocol or metaData action`);
  }
  return parsed;
}

/** Each row of the checkpoint as one JSON action line, rendered by DuckDB. */
async function renderCheckpoint(
  context: { readonly store: ObjectStore; readonly engine: Engine; readonly table: string },
  checkpoint: CheckpointFiles,
): Promise<string[]> {
  const { store, engine, table } = context;
  const paths: string[] = [];
  for (const key of keysOf(checkpoint)) {
    try {
      paths.push(await store.localPath(key));
    } catch (error) {
      if (error instanceof ObjectNotFound) throw new TableCorrupt(table, checkpoint.version, `checkpoint file ${key} is missing`, { cause: error });
      throw error;
    }
  }
  const kinds = ACTION_COLUMNS.map(quoteLiteral).join(', ');
  // One query, one JSON line per checkpoint row: to_json renders Parquet MAPs as objects and
  // BIGINTs as numbers; the COLUMNS lambda tolerates checkpoints lacking some action columns.
  const sql =
    `SELECT to_json(t)::VARCHAR AS action FROM (SELECT COLUMNS(c -> c IN (${kinds})) ` +
    `FROM read_parquet(${quotePaths(paths)}, union_by_name = true)) AS t`;
  let rows;
  try {
    rows = await engine.all(sql);
  } catch (error) {
    if (error instanceof SqlError) {
      throw new TableCorrupt(table, checkpoint.version, `checkpoint ${keysOf(checkpoint).join(', ')} does not parse: ${error.message}`, {
        cause: error,
        hint: 'Delete the broken checkpoint (and _last_checkpoint if it names it); the JSON commits are still the source of truth.',
      });
    }
    throw error;
  }
  return rows.map((row) => String(row['action']));
}

function keysOf(checkpoint: CheckpointFiles): string[] {
  return checkpoint.objects.map((o) => o.key);
}
