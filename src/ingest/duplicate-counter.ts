import type { ObjectStore } from '../storage/index.js';

/** Where a source's count of re-delivered records lives in the lake. */
export function duplicateCounterKey(source: string): string {
  return `_lakeloop/counters/${source}/duplicates.json`;
}

/**
 * Adds re-delivered records (a batch or keyed request that had already landed, so nothing
 * was written) to the source's counter in the lake, for `lakeloop status`. A duplicate
 * commits nothing to bronze, so its count cannot live in the table's log. The update is
 * read-modify-write: exact with one writer, approximate (never high) when several
 * processes count at once.
 */
export async function recordDuplicates(store: ObjectStore, source: string, records: number): Promise<void> {
  if (records <= 0) return;
  const key = duplicateCounterKey(source);
  const current = await readDuplicates(store, source);
  await store.put(key, `${JSON.stringify({ records: current + records, updatedMs: Date.now() })}\n`);
}

/** The source's count of re-delivered records (0 when none was ever counted). */
export async function readDuplicates(store: ObjectStore, source: string): Promise<number> {
  const body = await store.getIfExists(duplicateCounterKey(source));
  if (!body) return 0;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { records?: unknown };
    return typeof parsed.records === 'number' && parsed.records >= 0 ? parsed.records : 0;
  } catch {
    return 0;
  }
}
