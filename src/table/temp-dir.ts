import { rm } from 'node:fs/promises';
import { processTempDir } from '../storage/index.js';

/**
 * Runs `fn` with a fresh local temp directory and removes it afterwards. Files are staged
 * locally, then uploaded with `putFile`, so the same code writes to a local lake and S3.
 */
export async function withTempDir<T>(purpose: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await processTempDir(purpose);
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
