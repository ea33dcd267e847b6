import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const srcDir = fileURLToPath(new URL('../../src', import.meta.url));
const ALLOWED = 'storage/s3-object-store.ts';

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [join(dir, e.name)] : []))),
  );
  return nested.flat();
}

describe('AWS SDK boundary', () => {
  it(`only src/${ALLOWED} imports @aws-sdk or @smithy`, async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(srcDir)) {
      const text = await readFile(file, 'utf8');
      if (/(from\s+|import\s*\(\s*|require\s*\(\s*)['"]@(aws-sdk|smithy)\//.test(text) && relative(srcDir, file) !== ALLOWED) {
        offenders.push(relative(srcDir, file));
      }
    }
    expect(offenders).toEqual([]);
  });
});
