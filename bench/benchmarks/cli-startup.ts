import { join } from 'node:path';
import type { Benchmark, BenchContext, BenchResult } from '../benchmark.js';
import { packAndInstall, REPO_ROOT, sh } from '../fixtures/packed-install.js';
import { median, timed } from '../support.js';

/**
 * How long `lakeloop` takes to answer, as installed (`npm pack`, installed offline: dist/
 * compiled JavaScript) vs this checkout (src/ compiled on the fly by tsx; tsx caches its
 * transforms, so warm runs are measured). `--version` is the start-up alone; `status` on a
 * small lake (the `lakeloop init` sample ingested and run) adds loading the config, the
 * contracts, the models and the job (TypeScript, through tsx in both) and reading the
 * tables. The baseline is the checkout; ratio = installed ÷ checkout. Alternating, after a
 * warm-up, median of the runs. A third row weighs the installed package's loader for the
 * project's TypeScript: its own hooks with their transpile cache (warm after the warm-up, as
 * for any command whose files did not change) against tsx (`LAKELOOP_TS_LOADER=tsx`, what
 * every command paid before), both running `status`.
 */
const benchmark: Benchmark = {
  name: 'cli-startup',
  description: 'lakeloop --version and status: the packed install (dist/) vs the source checkout (tsx)',
  async run(context: BenchContext): Promise<BenchResult[]> {
    const runs = context.quick ? 3 : 7;
    context.log('npm pack (builds dist/) and installing the tarball offline');
    const { app, installed } = await packAndInstall(context.workDir);
    const packedCli = join(installed, 'bin', 'lakeloop.js');
    const sourceCli = join(REPO_ROOT, 'bin', 'lakeloop.js');
    await sh(app, process.execPath, [packedCli, 'init', 'proj']);
    const project = join(app, 'proj');
    await sh(project, process.execPath, [packedCli, 'ingest', 'events', '--file', 'data/sample.ndjson']);
    await sh(project, process.execPath, [packedCli, 'run']);

    const results: BenchResult[] = [];
    const packedWithTsx: number[] = [];
    for (const args of [['--version'], ['status']]) {
      const packed: number[] = [];
      const source: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const p = await timed(() => sh(project, process.execPath, [packedCli, ...args]));
        const s = await timed(() => sh(project, process.execPath, [sourceCli, ...args]));
        const t = args[0] === 'status' ? await timed(() => sh(project, 'env', ['LAKELOOP_TS_LOADER=tsx', process.execPath, packedCli, ...args])) : 0;
        if (i === 0) continue; // warm-up: the transform caches (lakeloop's, tsx's), the OS file cache
        packed.push(p * 1000);
        source.push(s * 1000);
        if (args[0] === 'status') packedWithTsx.push(t * 1000);
      }
      const value = median(packed);
      const baseline = median(source);
      results.push({
        name: `cli-startup ${args.join(' ')}`,
        value: Math.round(value),
        unit: 'ms',
        baseline: Math.round(baseline),
        ratio: value / baseline,
        target: '<= 1',
        details: { runs, packedMinMs: Math.round(Math.min(...packed)), sourceMinMs: Math.round(Math.min(...source)) },
      });
      if (args[0] === 'status') {
        const tsx = median(packedWithTsx);
        results.push({
          name: 'cli-startup status: TypeScript hooks vs tsx',
          value: Math.round(value),
          unit: 'ms',
          baseline: Math.round(tsx),
          ratio: value / tsx,
          target: '< 1',
          details: { runs, packedMinMs: Math.round(Math.min(...packed)), tsxMinMs: Math.round(Math.min(...packedWithTsx)) },
        });
      }
    }
    return results;
  },
};

export default benchmark;
