import { spawnSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SALES_PROJECT, salesOfDay } from '../fixtures/sales-project.js';
import { PROJECT_ROOT } from '../helpers/child.js';
import { writeProject } from '../helpers/project.js';
import { cli, SPEC_VERBS, tempDir } from './cli-harness.js';

/** `lakeloop completion bash|zsh`: a script generated from the program, naming every verb and its options. */
let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-completion'));
});
afterAll(async () => remove());

const VERBS = [...SPEC_VERBS.map((v) => v.split(' ')[0] ?? v), 'control', 'plan', 'apply', 'completion'];

describe('lakeloop completion', () => {
  it.each(['bash', 'zsh'])('the %s script names every verb and their options', async (shell) => {
    const run = await cli(['completion', shell], dir);
    expect(run.code, run.stderr).toBe(0);
    for (const verb of VERBS) expect(run.stdout).toMatch(new RegExp(`'${verb}'\\)`));
    expect(run.stdout).toMatch(/'contracts export'\)/);
    for (const option of ['--full-every', '--window', '--as-of', '--retention', '--lake']) expect(run.stdout).toContain(option);
  });

  it('the bash script is valid bash and completes verbs and options', async () => {
    const script = join(dir, 'lakeloop.bash');
    await writeFile(script, (await cli(['completion', 'bash'], dir)).stdout);
    const check = spawnSync('bash', ['-c', `source ${JSON.stringify(script)}
t() { COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _lakeloop; echo "\${COMPREPLY[*]}"; }
t lakeloop recon
t lakeloop --lake /tmp/x serve --full
t lakeloop contracts export --ou`], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.stdout.split('\n').slice(0, 3)).toEqual(['reconcile', '--full-every', '--output']);
  });

  it('the bash script completes model names for selector verbs and options, and table names for table verbs', async () => {
    // A project (silver.sales, gold.daily) whose lake lives elsewhere and holds bronze.sales.
    const project = await writeProject(join(dir, 'sales'), SALES_PROJECT);
    const lake = join(dir, 'sales-lake');
    const file = join(dir, 'sales.ndjson');
    await writeFile(file, `${salesOfDay(1, 1).map((s) => JSON.stringify(s)).join('\n')}\n`);
    expect((await cli(['--lake', lake, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
    // \`lakeloop\` on PATH, as an installed CLI would be: the script calls it back for names.
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'lakeloop'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(PROJECT_ROOT, 'bin', 'lakeloop.js'))} "$@"\n`);
    await chmod(join(bin, 'lakeloop'), 0o755);
    const script = join(dir, 'lakeloop.bash');
    await writeFile(script, (await cli(['completion', 'bash'], dir)).stdout);
    const check = spawnSync(
      'bash',
      [
        '-c',
        `source ${JSON.stringify(script)}
t() { COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _lakeloop; echo "\${COMPREPLY[*]}"; }
t lakeloop run ''
t lakeloop run silver.
t lakeloop reconcile --from 2026-03-01 --models g
t lakeloop replay --models silver.sales ''
t lakeloop run --fu
t lakeloop inspect ''
t lakeloop --lake ${JSON.stringify(lake)} inspect ''
t lakeloop status --lake ${JSON.stringify(lake)} --partitions ''
t lakeloop --lake ${JSON.stringify(lake)} vacuum b`,
      ],
      { cwd: project, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, NO_COLOR: '1' } },
    );
    expect(check.stderr).toBe('');
    expect(check.stdout.split('\n').slice(0, 9)).toEqual([
      'gold.* gold.daily silver.* silver.sales',
      'silver.* silver.sales',
      'gold.* gold.daily',
      'gold.* gold.daily silver.* silver.sales',
      '--full-refresh',
      // the project's lake has no tables yet: the models' names
      'gold.daily silver.sales',
      'bronze.sales gold.daily silver.sales',
      'bronze.sales gold.daily silver.sales',
      'bronze.sales',
    ]);
    // Each completion is a CLI start (about a second, more on a loaded machine): a generous bound.
  }, 240_000);

  it('the zsh script asks for the same names', async () => {
    const run = await cli(['completion', 'zsh'], dir);
    expect(run.stdout).toContain('__complete $values');
    // the options whose values are selectors, in the order the program declares them
    const selectorOptions = /\n\s*((?:--[a-z-]+\|?)+)\) values=models/.exec(run.stdout)?.[1]?.split('|');
    expect(selectorOptions?.sort()).toEqual(['--exclude', '--models']);
    expect(run.stdout).toMatch(/'inspect'\|'compact'\|'vacuum'\) values=tables/);
    expect(run.stdout).not.toContain("'__complete'");
    // zsh ties \`path\` to PATH: a local of that name would hide lakeloop from the script.
    expect(run.stdout).not.toMatch(/local [^\n]*\bpath=/);
  });

  it.skipIf(spawnSync('zsh', ['--version']).status !== 0)('the zsh script is valid zsh and completes model names (zsh installed here)', async () => {
    const script = join(dir, '_lakeloop');
    await writeFile(script, (await cli(['completion', 'zsh'], dir)).stdout);
    expect(spawnSync('zsh', ['-n', script], { encoding: 'utf8' }).stderr).toBe('');
    const bin = join(dir, 'zsh-bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'lakeloop'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(PROJECT_ROOT, 'bin', 'lakeloop.js'))} "$@"\n`);
    await chmod(join(bin, 'lakeloop'), 0o755);
    // compsys's functions stubbed to print what they are given, outside an interactive shell.
    const check = spawnSync(
      'zsh',
      [
        '-f',
        '-c',
        `compdef() { :; }
compadd() { print -r -- "\${(P)2}"; }
_describe() { print -r -- describe \${(@)\${(P)4}%%:*}; }
_files() { print -r -- files; }
source ${JSON.stringify(script)}
t() { words=("$@"); CURRENT=\${#words}; _lakeloop; }
t lakeloop run ''
t lakeloop run --fu
t lakeloop query --output ''`,
      ],
      { cwd: PROJECT_ROOT, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, NO_COLOR: '1' } },
    );
    expect(check.stderr).toBe('');
    const [models, options, files] = check.stdout.split('\n');
    expect(models?.split(' ')).toEqual(expect.arrayContaining(['silver.*', 'silver.orders', 'gold.daily_revenue']));
    expect(options?.split(' ')).toEqual(expect.arrayContaining(['describe', '--full-refresh', '--exclude']));
    expect(files).toBe('files');
  }, 120_000);

  it('an unknown shell is a usage error', async () => {
    const run = await cli(['completion', 'fish'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("'fish' is invalid");
  });
});
