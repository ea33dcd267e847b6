// Module hooks (Node's `module.register`, run on its hooks thread) that load a project's
// own TypeScript files for the compiled package; registered by user-module-loader.ts.
// This file imports only Node's built-ins, and esbuild only on a cache miss: a command
// whose project files are unchanged starts neither esbuild nor tsx.
import { createHash, randomUUID } from 'node:crypto';
import { constants, statSync, writeSync } from 'node:fs';
import { access, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TransformOptions } from 'esbuild';

/**
 * What `module.register` passes to these hooks (`data`): the URL that `'lakeloop'` resolves
 * to, and, when the hooks compile the project's TypeScript themselves (`transpile`), how.
 * Without `transpile` only `'lakeloop'` is resolved (tsx, registered before, does the rest).
 *
 * @example
 * register(new URL('./user-module-hooks.js', import.meta.url), { data: { entryUrl, transpile: { projectDir, tsconfig: '{}', esbuildVersion: '0.28.2', cacheDir: undefined, debug: false } } });
 */
export interface UserModuleHooksData {
  readonly entryUrl: string;
  readonly transpile?: {
    /** The folder of the project's package.json: its `node_modules/.cache/lakeloop/ts` is the cache's first choice. */
    readonly projectDir: string;
    /** The project's tsconfig.json `compilerOptions` as JSON (esbuild's `tsconfigRaw`), `{}` without one. */
    readonly tsconfig: string;
    readonly esbuildVersion: string;
    /** `LAKELOOP_TS_CACHE_DIR`: a folder, `off`, or undefined for the default. */
    readonly cacheDir: string | undefined;
    /** `LAKELOOP_TS_LOADER_DEBUG=1`: one line per compiled file on stderr (`cache hit`, `cache miss`). */
    readonly debug: boolean;
  };
}

type Transpile = NonNullable<UserModuleHooksData['transpile']>;

interface ResolveContext {
  readonly parentURL?: string | undefined;
}
interface ResolveResult {
  readonly url: string;
  readonly format?: string | null | undefined;
  readonly shortCircuit?: boolean;
}
interface LoadResult {
  readonly format: string | null | undefined;
  readonly source?: string | ArrayBuffer | Uint8Array | null | undefined;
  readonly shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<ResolveResult>;
type NextLoad = (url: string, context?: object) => Promise<LoadResult>;

let entryUrl = '';
let transpile: Transpile | undefined;

/** Node calls this with `register`'s `data` before any hook runs. */
export function initialize(data: UserModuleHooksData): void {
  entryUrl = data.entryUrl;
  transpile = data.transpile;
}

/**
 * `'lakeloop'` is the running package; from a TypeScript file, a relative `./x.js` that is
 * `./x.ts` on disk (or `.mjs` → `.mts`), and an extensionless `./x` that is `./x.ts` or
 * `./x/index.ts`, resolve as TypeScript (and tsx) resolve them.
 */
export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<ResolveResult> {
  if (specifier === 'lakeloop') return next(entryUrl, context);
  const parent = context.parentURL;
  if (transpile !== undefined && parent?.startsWith('file:') && isRelative(specifier) && TS_FILE.test(new URL(parent).pathname)) {
    const url = typeScriptFile(specifier, parent);
    if (url !== undefined) return { url, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}

/** A project's `.ts`/`.mts` file (outside node_modules) as the ES module esbuild makes of it, from the cache when its source is unchanged. */
export async function load(url: string, context: object, next: NextLoad): Promise<LoadResult> {
  if (transpile === undefined || !url.startsWith('file:')) return next(url, context);
  const path = fileURLToPath(url.replace(/[?#].*$/, ''));
  if (!TS_FILE.test(path) || path.includes(`${sep}node_modules${sep}`)) return next(url, context);
  if (path.endsWith('.ts') && !(await inModulePackage(dirname(path)))) {
    throw new Error(
      `${path}: lakeloop loads a project's TypeScript as ES modules, and this file's package.json is not "type": "module" (set it, or rename the file .mts; LAKELOOP_TS_LOADER=tsx loads it through tsx)`,
    );
  }
  const source = await readFile(path, 'utf8');
  const key = entryKey(transpile, path, source);
  const cache = await cacheDir(transpile);
  const entry = cache === undefined ? undefined : join(cache, entryName(path, key));
  const cached = entry === undefined ? undefined : await readEntry(entry, key);
  if (cached !== undefined) {
    debugLine(`cache hit ${path}`);
    return { format: 'module', source: cached, shortCircuit: true };
  }
  debugLine(`cache miss ${path} (esbuild)`);
  const code = await compile(path, source, transpile.tsconfig);
  if (cache !== undefined && entry !== undefined) await writeEntry(cache, entry, path, `${code}${endMarker(key)}`);
  return { format: 'module', source: code, shortCircuit: true };
}

const TS_FILE = /\.m?ts$/;

/**
 * esbuild's options for every file (part of the cache key): an ES module for Node 20 with an
 * inline source map naming the .ts file (`sourcefile`, added per file), so stack traces and
 * errors point into the TypeScript (the CLI turns Node's source maps on).
 */
const TRANSFORM_OPTIONS: Readonly<TransformOptions> = Object.freeze({ loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline', sourcesContent: false });

/** Changes whenever what an entry holds changes meaning. */
const CACHE_FORMAT = 'lakeloop-ts-1';
/** At most this many entries; past it the oldest written go first. */
const MAX_ENTRIES = 500;
const ENTRY_NAME = /^[0-9a-f]{16}-[0-9a-f]{32}\.mjs$/;
const TEMP_NAME = /^[0-9a-f]{16}-[0-9a-f]{32}\.mjs\.[0-9a-f]{8}\.tmp$/;

function isRelative(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../');
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** The TypeScript file a relative specifier of a TypeScript parent means, if it is not the file it names. */
function typeScriptFile(specifier: string, parentUrl: string): string | undefined {
  const at = specifier.search(/[?#]/);
  const bare = at === -1 ? specifier : specifier.slice(0, at);
  const suffix = at === -1 ? '' : specifier.slice(at);
  const path = fileURLToPath(new URL(bare, parentUrl));
  const candidates = /\.m?js$/.test(path) ? [path.replace(/js$/, 'ts')] : isFile(path) ? [] : [`${path}.ts`, join(path, 'index.ts')];
  const found = candidates.find(isFile);
  return found === undefined ? undefined : `${pathToFileURL(found).href}${suffix}`;
}

/** Whether the nearest package.json of `dir` says `"type": "module"` (as Node decides a .js file's format). */
const packageTypes = new Map<string, Promise<boolean>>();
function inModulePackage(dir: string): Promise<boolean> {
  let known = packageTypes.get(dir);
  if (known === undefined) {
    known = (async () => {
      const text = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
      if (text !== undefined) {
        try {
          return (JSON.parse(text) as { type?: unknown }).type === 'module';
        } catch {
          return false;
        }
      }
      const parent = dirname(dir);
      return parent === dir ? false : inModulePackage(parent);
    })();
    packageTypes.set(dir, known);
  }
  return known;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Names what esbuild would make of `source`: the source, its path (in the source map), esbuild's version and every option. */
function entryKey(options: Transpile, path: string, source: string): string {
  return sha256(`${CACHE_FORMAT}\0${options.esbuildVersion}\0${JSON.stringify(TRANSFORM_OPTIONS)}\0${options.tsconfig}\0${path}\0${source}`).slice(0, 32);
}

/** One file's entries share the path's prefix, so writing a new one can drop the file's older ones. */
function entryName(path: string, key: string): string {
  return `${sha256(path).slice(0, 16)}-${key}.mjs`;
}

/** Ends a complete entry (after the source map comment): written whole and renamed into place, an entry without it is torn. */
function endMarker(key: string): string {
  return `\n//lakeloop-ts-cache ${key}\n`;
}

async function readEntry(entry: string, key: string): Promise<string | undefined> {
  const text = await readFile(entry, 'utf8').catch(() => undefined);
  return text?.endsWith(endMarker(key)) ? text : undefined;
}

/**
 * Stores an entry, best effort (a concurrent writer, a full disk or a read-only folder
 * only cost a later compile): written to a temp file and renamed, then the file's other
 * entries, temp files older than an hour and the oldest entries past `MAX_ENTRIES` removed.
 */
async function writeEntry(dir: string, entry: string, path: string, text: string): Promise<void> {
  const temp = `${entry}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    await writeFile(temp, text);
    await rename(temp, entry);
    const names = await readdir(dir);
    const prefix = `${sha256(path).slice(0, 16)}-`;
    const mine = entry.slice(dir.length + 1);
    for (const name of names) {
      if (name !== mine && name.startsWith(prefix) && ENTRY_NAME.test(name)) await rm(join(dir, name), { force: true });
    }
    const hourAgo = Date.now() - 3_600_000;
    for (const name of names.filter((n) => TEMP_NAME.test(n))) {
      const info = await stat(join(dir, name)).catch(() => undefined);
      if (info && info.mtimeMs < hourAgo) await rm(join(dir, name), { force: true });
    }
    const entries = names.filter((n) => ENTRY_NAME.test(n));
    if (entries.length <= MAX_ENTRIES) return;
    const aged = await Promise.all(entries.map(async (name) => ({ name, mtimeMs: (await stat(join(dir, name)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const old of aged.slice(0, aged.length - MAX_ENTRIES)) await rm(join(dir, old.name), { force: true });
  } catch (error) {
    debugLine(`cache not written: ${error instanceof Error ? error.message : String(error)}`);
    await rm(temp, { force: true }).catch(() => undefined);
  }
}

let chosenDir: Promise<string | undefined> | undefined;

/**
 * The cache folder, chosen once: `LAKELOOP_TS_CACHE_DIR` (`off`: none), else the project's
 * `node_modules/.cache/lakeloop/ts` when the project has a node_modules (where babel, eslint
 * and find-cache-dir keep theirs), else `<os tmpdir>/lakeloop-ts-<uid>` used only when it is
 * a real directory of this user's that no one else can write. Undefined: compile every time.
 */
function cacheDir(options: Transpile): Promise<string | undefined> {
  chosenDir ??= chooseCacheDir(options).then((dir) => {
    debugLine(dir === undefined ? 'no cache folder' : `cache folder ${dir}`);
    return dir;
  });
  return chosenDir;
}

async function chooseCacheDir(options: Transpile): Promise<string | undefined> {
  if (options.cacheDir === 'off') return undefined;
  if (options.cacheDir !== undefined && options.cacheDir !== '') return (await usable(options.cacheDir, false)) ? options.cacheDir : undefined;
  const modules = join(options.projectDir, 'node_modules');
  if ((await stat(modules).catch(() => undefined))?.isDirectory()) {
    const dir = join(modules, '.cache', 'lakeloop', 'ts');
    if (await usable(dir, false)) return dir;
  }
  const uid = typeof process.getuid === 'function' ? `-${process.getuid()}` : '';
  const dir = join(tmpdir(), `lakeloop-ts${uid}`);
  return (await usable(dir, true)) ? dir : undefined;
}

/**
 * Creates `dir` if needed and checks this process can write it (a node_modules installed by
 * another user falls through to tmp); a shared folder (tmp) is created 0700 and must be
 * this user's alone, since its entries are run as code.
 */
async function usable(dir: string, mustBePrivate: boolean): Promise<boolean> {
  try {
    await mkdir(dir, mustBePrivate ? { recursive: true, mode: 0o700 } : { recursive: true });
    const info = await lstat(dir);
    if (!info.isDirectory()) return false;
    if (mustBePrivate && typeof process.getuid === 'function' && (info.uid !== process.getuid() || (info.mode & 0o022) !== 0)) return false;
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

interface EsbuildMessage {
  readonly text: string;
  readonly location: { readonly file: string; readonly line: number; readonly column: number } | null;
}

/** esbuild's transform of one file; its errors become one `SyntaxError` of `file:line:column: reason` lines (columns from 1, as editors count). */
async function compile(path: string, source: string, tsconfig: string): Promise<string> {
  const esbuild = await import('esbuild');
  try {
    const result = await esbuild.transform(source, { ...TRANSFORM_OPTIONS, sourcefile: path, tsconfigRaw: tsconfig });
    return result.code;
  } catch (error) {
    const messages = (error as { errors?: readonly EsbuildMessage[] }).errors;
    if (!Array.isArray(messages) || messages.length === 0) throw error;
    const lines = messages.map((m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ${m.text}` : `${path}: ${m.text}`));
    throw new SyntaxError(lines.join('\n'));
  }
}

function debugLine(line: string): void {
  // Synchronous, straight to the file descriptor: the hooks thread's process.stderr is relayed
  // through the main thread and may lose lines written just before the process exits.
  if (transpile?.debug) writeSync(2, `lakeloop ts loader: ${line}\n`);
}
