/**
 * Keeps README's "A 5-minute tour" honest: every `console` block of that section is a list
 * of `$ command` lines, each followed by the output the README shows for it. The test runs
 * the commands in order, in a fresh temp copy of the project (`npx lakeloop` becomes
 * `node bin/lakeloop.js --lake <temp lake>`), and compares each command's stdout with the
 * README's lines after `normalise` (timings, sizes, absolute paths and clock times vary;
 * alignment too when a number's width changes). A `...` line in the README stands for any
 * number of lines. A command must exit 0.
 */
import { spawnSync } from 'node:child_process';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyProject } from '../fixtures/project-copy.js';
import { PROJECT_ROOT } from '../helpers/child.js';
import { tempDir } from '../cli/cli-harness.js';

interface TourStep {
  readonly command: string;
  readonly expected: readonly string[];
}

/** The `console` blocks of the README section `heading`, as commands and their shown output. */
export function tourSteps(readme: string, heading: string): TourStep[] {
  const start = readme.indexOf(`\n## ${heading}`);
  if (start < 0) throw new Error(`README has no section "## ${heading}"`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const steps: { command: string; expected: string[] }[] = [];
  for (const block of section.matchAll(/```console\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split('\n').slice(0, -1)) {
      if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
      else if (steps.length === 0) throw new Error(`output before any command in the tour: ${line}`);
      else steps.at(-1)!.expected.push(line);
    }
  }
  return steps;
}

/** Blanks out what legitimately varies from run to run and machine to machine. */
export function normalise(line: string): string {
  return line
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>')
    .replace(/(^|\s)\/\S*/g, '$1<path>')
    .replace(/\d[\d.,]* (B|KiB|MiB|GiB)\b/g, '<size>')
    .replace(/\(\d[\d,]*\)/g, '(<bytes>)')
    .replace(/\d+(\.\d+)? (CPU )?s\b/g, '<seconds>')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Whether `actual` matches `expected`, where a `...` line of `expected` matches any lines. */
function matches(expected: readonly string[], actual: readonly string[]): boolean {
  if (expected.length === 0) return actual.length === 0;
  const [first, ...rest] = expected;
  if (first === '...') {
    for (let skip = 0; skip <= actual.length; skip++) if (matches(rest, actual.slice(skip))) return true;
    return false;
  }
  return actual.length > 0 && normalise(first!) === normalise(actual[0]!) && matches(rest, actual.slice(1));
}

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('readme-tour'));
  await copyProject(PROJECT_ROOT, dir);
  for (const entry of ['jobs', 'examples']) await cp(join(PROJECT_ROOT, entry), join(dir, entry), { recursive: true });
});
afterAll(async () => remove());

describe('README: A 5-minute tour', () => {
  it('finds the tour with commands to run', async () => {
    const steps = tourSteps(await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8'), 'A 5-minute tour');
    expect(steps.length).toBeGreaterThanOrEqual(8);
  });

  it('every command prints what the README shows', async () => {
    const steps = tourSteps(await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8'), 'A 5-minute tour');
    const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(PROJECT_ROOT, 'bin', 'lakeloop.js'))} --lake ${JSON.stringify(join(dir, 'lake'))}`;
    for (const step of steps) {
      expect(step.command, 'a tour command runs lakeloop').toMatch(/^npx lakeloop /);
      const child = spawnSync('sh', ['-c', step.command.replace(/^npx lakeloop/, cli)], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, NO_COLOR: '1' },
      });
      const actual = child.stdout.replace(/\n$/, '').split('\n');
      const shown = `$ ${step.command}\n${actual.join('\n')}\n(exit ${child.status}; stderr: ${child.stderr.trim()})`;
      expect(child.status, shown).toBe(0);
      if (!matches(step.expected, actual)) {
        // The README's lines against the output, both normalised, for a readable diff.
        expect(actual.map(normalise), shown).toEqual(step.expected.map(normalise));
        expect.unreachable(`the output does not match the README's (with its "..." lines):\n${shown}`);
      }
    }
  }, 180_000);
});
