/**
 * Serialises commits to one table inside this process. Where the store enforces
 * put-if-absent this is only an optimisation; where it does not (SPEC §4: an S3 endpoint
 * that ignores `If-None-Match`), it is what makes the single writer safe against its own
 * concurrent tasks (the streaming loop and a reconcile in one `serve`).
 */
const tails = new Map<string, Promise<unknown>>();

/** Runs `work` after every earlier `withCommitLock` call of the same `key` has settled. */
export async function withCommitLock<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  const run = previous.then(work, work);
  const tail = run.catch(() => undefined);
  tails.set(key, tail);
  try {
    return await run;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}
