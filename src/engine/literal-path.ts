import { randomBytes } from 'node:crypto';
import { copyFile, link, symlink } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { LakeloopError } from '../core/index.js';
import { quoteLiteral } from './engine.js';

// DuckDB's file readers (read_parquet, read_ndjson, read_json, read_csv, read_text,
// parquet_schema, parquet_metadata, ...) treat any path holding `*`, `?` or `[` as a glob:
// `h[12].ndjson` reads h1.ndjson and h2.ndjson, `g*.ndjson` every g-file. Verified on
// DuckDB 1.5: braces and `]` alone are literal; there is no escape character (a backslash
// is a path separator once the path is a glob), but a one-character class matches exactly
// that character, so `[[]`, `[*]` and `[?]` spell the three literally.
const GLOB_CHAR = /[*?[]/;
const GLOB_CHARS = /[*?[]/g;

/**
 * The pattern DuckDB's file readers resolve to exactly `path` and nothing else: the path
 * itself when it holds no glob character (the common case: no copy, no syscall), else the
 * path with each `*`, `?`, `[` wrapped in a one-character class. Throws a `LakeloopError`
 * (`UNREADABLE_PATH`) for the one path DuckDB cannot name literally: a glob character and a
 * backslash together (see `readablePath` for files that can be linked elsewhere).
 *
 * @example
 * literalPath('/drop/h[12].ndjson'); // '/drop/h[[]12].ndjson' — reads that file only
 * literalPath('/drop/a.ndjson');     // '/drop/a.ndjson'
 */
export function literalPath(path: string): string {
  if (!GLOB_CHAR.test(path)) return path;
  if (path.includes('\\')) {
    throw new LakeloopError('UNREADABLE_PATH', `Failed to read ${JSON.stringify(path)}: DuckDB cannot read a path holding both a backslash and one of * ? [ literally`, {
      hint: 'Rename the folder or file so that its path has no backslash (or none of * ? [).',
    });
  }
  return path.replace(GLOB_CHARS, (char) => `[${char}]`);
}

/** Whether `literalPath(path)` can name the path (it holds no backslash, or none of `* ? [`). */
export function isLiteralPath(path: string): boolean {
  return !GLOB_CHAR.test(path) || !path.includes('\\');
}

/**
 * A file path as a SQL string literal that a DuckDB file reader reads literally, never as a
 * glob: `quoteLiteral(literalPath(path))`. Use it for every path handed to a reader.
 *
 * @example
 * await engine.all(`SELECT count(*) FROM read_ndjson(${quotePath(file)})`);
 */
export function quotePath(path: string): string {
  return quoteLiteral(literalPath(path));
}

/** A list literal of `quotePath`s: `['/a.parquet', '/b[[]1].parquet']`, for `read_parquet([...])`. */
export function quotePaths(paths: readonly string[]): string {
  return `[${paths.map(quotePath).join(', ')}]`;
}

/**
 * `path` itself when `literalPath` can name it; otherwise a link to it under `dir` (a
 * private temp folder the caller removes) with a plain name and the same extension: a
 * hard link, else a symbolic link, else a copy.
 *
 * @example
 * const readable = await readablePath('/drop\\in/a*.ndjson', spoolDir); // '<spoolDir>/literal-1f2e….ndjson'
 */
export async function readablePath(path: string, dir: string): Promise<string> {
  if (isLiteralPath(path)) return path;
  const extension = /^\.[A-Za-z0-9]{1,12}$/.test(extname(path)) ? extname(path) : '';
  const target = join(dir, `literal-${randomBytes(8).toString('hex')}${extension}`);
  try {
    await link(path, target);
  } catch {
    try {
      await symlink(path, target);
    } catch {
      await copyFile(path, target);
    }
  }
  return target;
}
