import { LakeloopError } from '../../core/index.js';
import { relationOf, runDataTests, testInputs, type DataTestResult } from '../../runner/index.js';
import type { CommandContext } from '../command-context.js';
import { plural } from '../human.js';
import { selectModelsOrFail } from './model-selection.js';
import { projectModels } from './project-models.js';

export interface TestOptions {
  /** Selectors of models whose tests are left out. */
  readonly exclude?: readonly string[];
  readonly json?: boolean;
}

/**
 * `lakeloop test [selectors...] [--exclude selectors...]`: runs the data tests of the selected (or all) models against their
 * current published tables, one line per test; `--json` prints `{ tests, passed, failed, warned }`
 * as the last line. Exits 1 when an `error` test fails or a model's table is not published.
 */
export async function testCommand(selected: readonly string[], options: TestOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const session = await context.session();
  const { dag } = await projectModels(context, session);
  const models = selectModelsOrFail(dag, selected, options.exclude ?? []).models.filter((m) => m.header.tests.length > 0);
  const existing = new Set(await session.lake.tables());
  const results: DataTestResult[] = [];
  const missing: string[] = [];
  for (const model of models) {
    if (!existing.has(model.name)) {
      missing.push(model.name);
      if (!options.json) io.stdout.write(`${model.name}  not published yet: ${plural(model.header.tests.length, 'test')} not run\n`);
      continue;
    }
    await session.lake.bindViews(session.engine, [model.name, ...testInputs(model)]);
    const modelResults = await runDataTests(session.engine, model, relationOf(model.name));
    results.push(...modelResults);
    if (!options.json) {
      for (const r of modelResults) {
        const what = r.status === 'pass' ? 'pass' : `${r.status}  ${plural(r.failures, 'failing row')}`;
        io.stdout.write(`${r.model}  ${r.test}  ${what}\n`);
        for (const row of r.status === 'pass' ? [] : r.sample) io.stdout.write(`    ${JSON.stringify(row)}\n`);
      }
    }
  }
  const passed = results.filter((r) => r.status === 'pass').length;
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  if (options.json) io.stdout.write(`${JSON.stringify({ tests: results, passed, failed, warned, missing })}\n`);
  else io.stdout.write(`${results.length === 0 && missing.length === 0 ? 'no data tests' : `${passed} passed, ${failed} failed, ${warned} warned`}\n`);
  if (failed > 0) throw new LakeloopError('DATA_TEST', `${plural(failed, 'data test')} failed`, { hint: 'See the failing rows above.' });
  if (missing.length) {
    throw new LakeloopError('DATA_TEST', `Not published yet: ${missing.join(', ')}`, { hint: 'Run `lakeloop run` first.' });
  }
}
