import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('an unknown shell is a usage error', async () => {
    const run = await cli(['completion', 'fish'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("'fish' is invalid");
  });
});
