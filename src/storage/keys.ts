import { StorageError } from '../core/index.js';

/**
 * Checks that `key` is a safe relative object key: no leading `/`, no `.`/`..` or empty
 * segments, no backslashes or NUL. Hostile names (`../../etc/passwd`) are refused here,
 * once, for every store.
 */
export function checkKey(key: string): string {
  const bad =
    key.length === 0 ||
    key.startsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((segment, i, all) => segment === '..' || segment === '.' || (segment === '' && i < all.length - 1));
  if (bad) throw new StorageError(`Refused object key ${JSON.stringify(key)}: keys are relative paths without '.', '..' or empty segments`, key);
  return key;
}

/** Checks a listing prefix: empty, or a key-like string (it may end in `/`). */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkKey(prefix.endsWith('/') ? `${prefix}x` : prefix);
  return prefix;
}
