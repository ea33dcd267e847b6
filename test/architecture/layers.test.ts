import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The dependency order of src/ (STYLE.md): a folder may import only folders of a lower
 * rank, and another folder only through its index.ts. Unenforced layers erode; this
 * test is the enforcement.
 */
const RANK: Record<string, number> = {
  core: 0,
  storage: 1,
  engine: 1,
  table: 2,
  config: 2,
  contracts: 3,
  ingest: 4,
  models: 4,
  planner: 5,
  query: 5,
  runner: 6,
  state: 6,
  quality: 6,
  observe: 7,
  scheduler: 7,
  reconcile: 7,
  server: 8,
  demo: 8,
  cli: 9,
};

/** Packages only one folder may import (the native surface in one place). */
const OWNERS: Record<string, string> = {
  '@duckdb/': 'engine',
  '@aws-sdk/': 'storage',
};

const SRC = join(import.meta.dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(code: string): string[] {
  const found: string[] = [];
  const pattern = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const match of code.matchAll(pattern)) found.push((match[1] ?? match[2]) as string);
  return found;
}

describe('source layering', () => {
  const files = sourceFiles(SRC);

  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it('every folder of src/ has a rank', () => {
    const folders = readdirSync(SRC).filter((e) => statSync(join(SRC, e)).isDirectory());
    expect(folders.filter((f) => RANK[f] === undefined)).toEqual([]);
  });

  it('imports point down the layers, across folders only through index.ts, and native packages stay in their owner', () => {
    const violations: string[] = [];
    for (const file of files) {
      const rel = relative(SRC, file).split('\\').join('/');
      const folder = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '';
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        for (const [prefix, owner] of Object.entries(OWNERS)) {
          if (spec.startsWith(prefix) && folder !== owner) violations.push(`${rel} imports ${spec} (only src/${owner} may)`);
        }
        if (!spec.startsWith('.')) continue;
        const target = relative(SRC, join(file, '..', spec)).split('\\').join('/');
        const targetFolder = target.includes('/') ? target.slice(0, target.indexOf('/')) : '';
        if (folder === '' || targetFolder === folder) continue;
        const from = RANK[folder] ?? Infinity;
        const to = RANK[targetFolder] ?? Infinity;
        if (to >= from) violations.push(`${rel} imports ${target}: ${targetFolder} is not below ${folder}`);
        if (!target.endsWith('/index.js') && !target.endsWith('/index.ts')) {
          violations.push(`${rel} imports ${target}: import src/${targetFolder} through its index.ts`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
