import { ObjectNotFound, SqlError, TableCorrupt } from '../core/index.js';
import type { Engine } from '../engine/index.js';
import { quoteIdent, quoteList } from '../engine/index.js';
import type { ObjectStore } from '../storage/index.js';
import { addAction, emptyActions, type ParsedActions } from './actions.js';
import type { CheckpointFiles } from './log-files.js';

const ACTION_COLUMNS = ['protocol', 'metaData', 'txn', 'add', 'remove'] as const;

/**
 * Reads a (possibly multi-part) Parquet checkpoint through DuckDB. Each action column is
 * rendered with `to_json`, which turns Parquet MAPs into JSON objects, then validated like
 * a JSON commit. A checkpoint that is missing or does not parse is `TableCorrupt`.
 */
export async function readCheckpoint(
  context: { readonly store: ObjectStore; readonly engine: Engine; readonly table: string },
  checkpoint: CheckpointFiles,
): Promise<ParsedActions> {
  const { store, engine, table } = context;
  const source = { table, version: checkpoint.version, file: checkpoint.keys[0] ?? '' };
  const paths: string[] = [];
  for (const key of checkpoint.keys) {
    try {
      paths.push(await store.localPath(key));
    } catch (error) {
      if (error instanceof ObjectNotFound) throw new TableCorrupt(table, checkpoint.version, `checkpoint file ${key} is missing`, { cause: error });
      throw error;
    }
  }
  const from = `read_parquet(${quoteList(paths)}, union_by_name = true)`;
  let rows;
  try {
    const columns = new Set((await engine.describe(`SELECT * FROM ${from}`)).map((c) => c.name));
    const kinds = ACTION_COLUMNS.filter((k) => columns.has(k));
    if (!kinds.includes('protocol') || !kinds.includes('metaData')) {
      throw new TableCorrupt(table, checkpoint.version, `checkpoint ${checkpoint.keys.join(', ')} has no protocol or metaData column`);
    }
    const select = kinds.map((k) => `to_json(${quoteIdent(k)}) AS ${quoteIdent(k)}`).join(', ');
    const where = kinds.map((k) => `${quoteIdent(k)} IS NOT NULL`).join(' OR ');
    rows = await engine.all(`SELECT ${select} FROM ${from} WHERE ${where}`);
  } catch (error) {
    if (error instanceof TableCorrupt) throw error;
    if (error instanceof SqlError) {
      throw new TableCorrupt(table, checkpoint.version, `checkpoint ${checkpoint.keys.join(', ')} does not parse: ${error.message}`, {
        cause: error,
        hint: 'Delete the broken checkpoint (and _last_checkpoint if it names it); the JSON commits are still the source of truth.',
      });
    }
    throw error;
  }
  const parsed = emptyActions();
  rows.forEach((row, index) => {
    const record: Record<string, unknown> = {};
    for (const [kind, json] of Object.entries(row)) {
      if (json === null) continue;
      try {
        record[kind] = typeof json === 'string' ? JSON.parse(json) : json;
      } catch (error) {
        throw new TableCorrupt(table, checkpoint.version, `checkpoint row ${index + 1} has an unreadable ${kind}`, { cause: error });
      }
    }
    addAction(parsed, record, source, `checkpoint row ${index + 1}`);
  });
  return parsed;
}
