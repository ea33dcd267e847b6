import type { Engine } from '../engine/index.js';
import { quotePaths } from '../engine/index.js';

/**
 * The top-level column names of Parquet files, read from their footers with DuckDB's
 * `parquet_schema` and cached (data files are immutable; the cache key includes the size).
 * The scan needs them to tell files that carry partition columns from foreign files that
 * do not, and to type columns no file has yet (after `addColumns`).
 */
export class FileColumns {
  private readonly cache = new Map<string, readonly string[]>();

  constructor(
    private readonly engine: Engine,
    private readonly maxEntries = 100_000,
  ) {}

  /** Top-level column names (lower-cased) of each file, by local path. */
  async of(files: readonly { localPath: string; sizeBytes: number }[]): Promise<Map<string, ReadonlySet<string>>> {
    const result = new Map<string, ReadonlySet<string>>();
    const missing: string[] = [];
    const sizeByPath = new Map(files.map((f) => [f.localPath, f.sizeBytes]));
    for (const file of files) {
      const cached = this.cache.get(cacheKey(file.localPath, file.sizeBytes));
      if (cached) result.set(file.localPath, new Set(cached));
      else missing.push(file.localPath);
    }
    const unique = [...new Set(missing)];
    for (let i = 0; i < unique.length; i += 500) {
      const batch = unique.slice(i, i + 500);
      const rows = await this.engine.all(`SELECT file_name, name, num_children FROM parquet_schema(${quotePaths(batch)})`);
      const byFile = new Map<string, { name: string; children: number }[]>();
      for (const row of rows) {
        const file = String(row['file_name']);
        const list = byFile.get(file) ?? [];
        list.push({ name: String(row['name']), children: Number(row['num_children'] ?? 0) });
        byFile.set(file, list);
      }
      for (const [file, nodes] of byFile) {
        const names = topLevelNames(nodes);
        const size = sizeByPath.get(file) ?? -1;
        if (this.cache.size >= this.maxEntries) this.cache.clear();
        this.cache.set(cacheKey(file, size), names);
        result.set(file, new Set(names));
      }
    }
    return result;
  }
}

function cacheKey(path: string, sizeBytes: number): string {
  return `${sizeBytes}:${path}`;
}

/** The root's direct children in a depth-first list of schema nodes. */
function topLevelNames(nodes: readonly { name: string; children: number }[]): string[] {
  const root = nodes[0];
  if (!root) return [];
  const names: string[] = [];
  let index = 1;
  const skip = (at: number): number => {
    const node = nodes[at];
    if (!node) return at + 1;
    let next = at + 1;
    for (let i = 0; i < node.children; i++) next = skip(next);
    return next;
  };
  for (let i = 0; i < root.children && index < nodes.length; i++) {
    const node = nodes[index];
    if (node) names.push(node.name.toLowerCase());
    index = skip(index);
  }
  return names;
}
