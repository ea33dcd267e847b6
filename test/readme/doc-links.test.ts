/**
 * Keeps the README and `docs/` navigable: every relative link in README.md and docs/*.md
 * points to a file that exists, and a `#fragment` to a heading of that file (GitHub's
 * anchors: lower case, punctuation dropped, spaces to hyphens, `-1`, `-2` for repeats).
 * Every page of docs/ is linked from the README, so none is left orphaned when sections move.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/child.js';

/** The text outside fenced code blocks and inline code spans, where links are links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor for each heading of `markdown`, as its renderer makes them. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const outsideFences = markdown.replace(/^```[\s\S]*?^```/gm, '');
  for (const [, text] of outsideFences.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = text!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The relative link targets of `markdown` (web and mail links left out). */
export function relativeLinksOf(markdown: string): string[] {
  const targets: string[] = [];
  for (const [, target] of prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (!/^[a-z][a-z0-9+.-]*:/i.test(target!)) targets.push(target!);
  }
  return targets;
}

async function markdownFiles(): Promise<string[]> {
  const docs = (await readdir(join(PROJECT_ROOT, 'docs'))).filter((name) => name.endsWith('.md'));
  return [join(PROJECT_ROOT, 'README.md'), ...docs.sort().map((name) => join(PROJECT_ROOT, 'docs', name))];
}

describe('links in README.md and docs/', () => {
  it('the anchor rules match GitHub for the headings these files use', () => {
    expect([...anchorsOf('## Models: `sql/<layer>/<name>.sql`\n## Partition status: `lakeloop status --partitions`\n## A\n## A')]).toEqual([
      'models-sqllayernamesql',
      'partition-status-lakeloop-status---partitions',
      'a',
      'a-1',
    ]);
    expect(relativeLinksOf('[a](docs/a.md) [b](https://x.test/) `[c](no.md)`\n```\n[d](no.md)\n```\n[e](#e)')).toEqual(['docs/a.md', '#e']);
  });

  it('every relative link points to a file that exists, and every fragment to a heading', async () => {
    const broken: string[] = [];
    for (const file of await markdownFiles()) {
      const text = await readFile(file, 'utf8');
      for (const link of relativeLinksOf(text)) {
        const [path, fragment] = link.split('#', 2) as [string, string | undefined];
        const target = path === '' ? file : join(dirname(file), decodeURIComponent(path));
        const where = `${relative(PROJECT_ROOT, file)}: ${link}`;
        if (!existsSync(target)) {
          broken.push(`${where} (no file ${relative(PROJECT_ROOT, target)})`);
          continue;
        }
        if (fragment !== undefined && target.endsWith('.md') && !anchorsOf(await readFile(target, 'utf8')).has(fragment)) {
          broken.push(`${where} (no heading #${fragment} in ${relative(PROJECT_ROOT, target)})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('the README links every page of docs/', async () => {
    const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const linked = new Set(relativeLinksOf(readme).map((link) => link.split('#')[0]));
    const pages = (await markdownFiles()).slice(1).map((file) => relative(PROJECT_ROOT, file));
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });
});
