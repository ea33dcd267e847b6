import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LakeloopError } from '../../core/index.js';
import type { CommandContext } from '../command-context.js';

/** `lakeloop init`'s options. */
export interface InitCommandOptions {
  /** The project's `lakeloop` dependency as package.json writes it (`--from`), e.g. `^0.1.0` or `file:/x/lakeloop-0.1.0.tgz`. */
  readonly from?: string;
}

/**
 * The folder of the lakeloop package this code belongs to: the repository checkout
 * (src/cli/commands/) or the installed package (dist/cli/commands/), both three levels up.
 */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/[\\/]$/, '');

/**
 * `lakeloop init [dir] [--from spec]`: scaffolds a project that installs, ingests, runs,
 * queries and reconciles as generated: a config, one contract (`events`), an incremental
 * silver model (merged by key) and an incremental gold model (by day partition) with data
 * tests, the nightly reconcile job (`jobs/nightly-reconcile.ts`, 02:00 UTC over the last 7
 * days), a sample file, `package.json`, `tsconfig.json`, `README.md` and `.gitignore`. While
 * lakeloop is on no registry, the project depends on the lakeloop that created it
 * (`file:<its package folder>`); `--from` or `LAKELOOP_PACKAGE_SPEC` names another spec (a
 * tarball, or `^0.1.0` once published). It never overwrites: a folder that already holds a
 * lakeloop project is refused.
 *
 * @example
 * await initCommand('shop', { from: 'file:/tmp/lakeloop-0.1.0.tgz' }, context);
 */
export async function initCommand(dir: string, options: InitCommandOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const root = resolve(io.cwd, dir);
  const spec = options.from || io.env['LAKELOOP_PACKAGE_SPEC'] || `file:${PACKAGE_ROOT}`;
  const existing = await readdir(root).catch(() => [] as string[]);
  const files: Readonly<Record<string, string>> = { 'package.json': packageJson(spec), ...FILES };
  const taken = Object.keys(files).filter((file) => existing.includes(file.split('/')[0] as string));
  if (existing.includes('lakeloop.config.ts') || taken.some((t) => !KEPT_IF_PRESENT.has(t))) {
    throw new LakeloopError('PROJECT_EXISTS', `${root} already holds a project (${taken.join(', ') || 'lakeloop.config.ts'})`, {
      hint: 'Run `lakeloop init <new folder>`; init never overwrites files.',
    });
  }
  const name = basename(root).toLowerCase().replace(/[^a-z0-9-]/g, '-') || 'lakeloop-project';
  const written: string[] = [];
  for (const [file, text] of Object.entries(files)) {
    const path = join(root, file);
    if (await stat(path).catch(() => undefined)) continue;
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, text.replaceAll('__NAME__', name));
    written.push(file);
  }
  const where = relative(io.cwd, root) || '.';
  io.stdout.write(`created a lakeloop project in ${root} (lakeloop: ${spec}):\n${written.map((f) => `  ${f}`).join('\n')}\n\n`);
  io.stdout.write(['next:', ...(where === '.' ? [] : [`  cd ${where}`]), ...NEXT.map(([command]) => `  ${command}`), ''].join('\n'));
}

/** Files a folder may already have (an `npm init`-ed folder, a git repository) that init then leaves as they are. */
const KEPT_IF_PRESENT: ReadonlySet<string> = new Set(['package.json', '.gitignore', 'tsconfig.json', 'README.md']);

/** The commands to run next with what each does, as init prints them and the project's README lists them. */
const NEXT: readonly (readonly [command: string, does: string])[] = [
  ['npm install', 'lakeloop and its dependencies'],
  ['npx lakeloop ingest events --file data/sample.ndjson', 'bronze.events (+ quarantine.events)'],
  ['npx lakeloop run', 'silver.events, gold.daily_events'],
  ['npx lakeloop query "select * from gold.daily_events order by day, kind"', ''],
  ['npx lakeloop reconcile --from 2026-11-01 --to 2026-11-02', 'recompute those days from bronze'],
];

/** The project's package.json: an ES module depending on lakeloop as `spec`. */
function packageJson(spec: string): string {
  const pkg = {
    name: '__NAME__',
    private: true,
    type: 'module',
    scripts: { start: 'lakeloop serve', test: 'lakeloop test' },
    dependencies: { lakeloop: spec },
    engines: { node: '>=20' },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** The project's files besides package.json; `__NAME__` becomes the folder's name. */
const FILES: Readonly<Record<string, string>> = {
  '.gitignore': 'node_modules/\nlake/\n',
  'lakeloop.config.ts': `import { defineConfig } from 'lakeloop';

export default defineConfig({
  lake: { root: './lake' }, // or 's3://bucket/prefix' with s3: { endpoint, region }
  engine: { memoryLimit: '1GB' },
  // sources: { events: { fileDrop: { path: './drop/events', intervalMs: 2000 } } },
});
`,
  'contracts/events.ts': `import { defineContract, z } from 'lakeloop';

// What producers send to POST /ingest/events or \`lakeloop ingest events\`.
export default defineContract({
  source: 'events',
  version: 1,
  owner: 'me',
  schema: z.object({
    event_id: z.string().min(1),
    user_id: z.string().min(1),
    kind: z.enum(['view', 'click', 'purchase']),
    amount: z.number().nonnegative().optional(),
    event_ts: z.iso.datetime({ offset: true }),
  }),
  key: ['event_id'],
  eventTime: 'event_ts',
  drift: 'rescue',
});
`,
  'sql/silver/events.sql': `/*
kind: incremental_by_key
partition_by: day
unique_key: [event_id]
version_by: _ingested_at
lateness: 2h
owner: me
tests:
  - not_null: [event_id, event_ts, day]
  - unique: [event_id]
*/
-- One row per event: a producer re-sends an event it got no acknowledgement for, so an
-- event_id can land more than once; the newest landing wins. day is the UTC day of the event.
-- Each run reads only the bronze files added since the last one and merges their rows by
-- event_id; events older than the lateness horizon wait in bronze for \`lakeloop reconcile\`.
SELECT event_id, user_id, kind, amount, event_ts, CAST(timezone('UTC', event_ts) AS DATE) AS day, _ingested_at
FROM bronze.events
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _ingested_at DESC, _ingest_id DESC) = 1
`,
  'sql/gold/daily_events.sql': `/*
kind: incremental_by_partition
partition_by: day
lateness: 2h
owner: me
tests:
  - not_null: [day, kind]
  - unique: [day, kind]
  - expression: events > 0
*/
-- Events, users and amount per UTC day and kind. Each run recomputes only the days whose
-- silver.events rows changed since the last one, and replaces exactly those partitions.
SELECT day, kind, count(*) AS events, count(DISTINCT user_id) AS users, coalesce(sum(amount), 0) AS amount
FROM silver.events
GROUP BY day, kind
`,
  'tsconfig.json': `${JSON.stringify(
    {
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, isolatedModules: true, noEmit: true },
      include: ['lakeloop.config.ts', 'contracts', 'jobs'],
    },
    null,
    2,
  )}\n`,
  'jobs/nightly-reconcile.ts': `import { defineJob } from 'lakeloop';

// Every night at 02:00 UTC: recompute the last 7 days of every model from bronze, so
// late events land in silver and gold, and publish the corrections.
export default defineJob({
  kind: 'reconcile',
  schedule: '0 2 * * *', // cron: minute hour day-of-month month day-of-week
  params: { window: '7d' },
});
`,
  'data/sample.ndjson': [
    { event_id: 'e1', user_id: 'u1', kind: 'view', event_ts: '2026-11-01T09:00:00Z' },
    { event_id: 'e2', user_id: 'u1', kind: 'click', event_ts: '2026-11-01T09:00:05Z' },
    { event_id: 'e3', user_id: 'u2', kind: 'purchase', amount: 42.5, event_ts: '2026-11-01T10:30:00+01:00' },
    { event_id: 'e2', user_id: 'u1', kind: 'click', event_ts: '2026-11-01T09:00:05Z' },
    { event_id: 'e4', user_id: 'u3', kind: 'view', event_ts: '2026-11-02T23:59:59Z' },
    { event_id: 'e5', user_id: 'u3', kind: 'teleport', event_ts: '2026-11-02T23:59:59Z' },
  ]
    .map((event) => JSON.stringify(event))
    .join('\n')
    .concat('\n'),
  'README.md': `# __NAME__

A lakeloop project: events land in bronze, the SQL models of \`sql/\` build silver and
gold from them, a nightly job reconciles late data.

\`\`\`sh
${[...NEXT, ['npx lakeloop serve', 'POST /ingest/events, models after each batch, the nightly job'], ['npx lakeloop status', 'tables, late rows, jobs: last and next run']].map(([command, does]) => (does ? `${command.padEnd(58)} # ${does}` : command)).join('\n')}
\`\`\`

1. \`ingest\` lands the sample in \`bronze.events\`; the record that breaks the contract goes
   to \`quarantine.events\` with its reason.
2. \`run\` builds \`silver.events\` (incremental by key: each run merges only the new bronze
   rows by \`event_id\`) and \`gold.daily_events\` (incremental by partition: only the days
   that changed are rewritten), and runs their data tests.
3. \`reconcile\` recomputes the days from bronze, compares them with silver and gold and
   publishes the differences (late events); \`jobs/nightly-reconcile.ts\` does the same
   every night at 02:00 UTC over the last 7 days while \`serve\` runs.

- \`contracts/\`: one file per source (a zod schema, key, event time, drift policy).
- \`sql/silver\`, \`sql/gold\`: models, one SQL file each, with their kind and data tests in the header.
- \`jobs/\`: scheduled jobs, one file each (\`defineJob\`: kind, cron schedule, params, timeout, retries).
- \`lakeloop.config.ts\`: where the lake is, engine limits, file drops and API pulls.
- \`tsconfig.json\`: for your editor (\`npm install -D typescript\` to run \`npx tsc\`).

\`package.json\` depends on the lakeloop that ran \`lakeloop init\` (a \`file:\` path) while
lakeloop is on no registry; once it is published, depend on \`"lakeloop": "^0.1.0"\`.
`,
};
