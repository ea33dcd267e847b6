import { LakeloopError, unknownNamesHint, UsageError } from '../../core/index.js';
import { relationOf, runDataTests, testInputs, type DataTestResult } from '../../runner/index.js';
import type { CommandContext } from '../command-context.js';
import { plural } from '../human.js';
import { projectModels } from './project-models.js';

export interface TestOptions {
  readonly json?: boolean;
}

/**
 * `lakeloop test [models...]`: runs the data tests of the named (or all) models against their
 * current published tables, one line per test; `--json` prints `{ tests, passed, failed, warned }`
 * as the last line. Exits 1 when an `error` test fails or a model's table is not published.
 */
export async function testCommand(selected: readonly string[], options: TestOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const session = await context.session();
  const { dag } = await projectModels(context, session);
  const unknown = selected.filter((name) => !dag.byName.has(name));
  if (unknown.length) {
    const known = dag.models.map((m) => m.name);
    throw new UsageError(`Unknown model ${unknown.join(', ')}`, unknownNamesHint(unknown, known, 'Models', 'Add sql/<layer>/<name>.sql files.'));
  }
  const wanted = new Set(selected);
  const models = dag.models.filter((m) => (wanted.size === 0 || wanted.has(m.name)) && m.header.tests.length > 0);
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
