import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { LakeloopError } from '../../core/index.js';
import type { CommandContext } from '../command-context.js';

/**
 * `lakeloop init [dir]`: scaffolds a project that ingests, runs and queries as generated:
 * a config, one contract (`events`), one silver and one gold model with data tests, the
 * nightly reconcile job (`jobs/nightly-reconcile.ts`, 02:00 UTC over the last 7 days), a
 * sample file, `package.json` (an ES module depending on lakeloop) and `.gitignore`. It
 * never overwrites: a folder that already holds a lakeloop project is refused.
 */
export async function initCommand(dir: string, context: CommandContext): Promise<void> {
  const { io } = context;
  const root = resolve(io.cwd, dir);
  const existing = await readdir(root).catch(() => [] as string[]);
  const taken = Object.keys(FILES).filter((file) => existing.includes(file.split('/')[0] as string));
  if (existing.includes('lakeloop.config.ts') || taken.some((t) => t !== 'package.json' && t !== '.gitignore')) {
    throw new LakeloopError('PROJECT_EXISTS', `${root} already holds a project (${taken.join(', ') || 'lakeloop.config.ts'})`, {
      hint: 'Run `lakeloop init <new folder>`; init never overwrites files.',
    });
  }
  const name = basename(root).toLowerCase().replace(/[^a-z0-9-]/g, '-') || 'lakeloop-project';
  const written: string[] = [];
  for (const [file, text] of Object.entries(FILES)) {
    const path = join(root, file);
    if (await stat(path).catch(() => undefined)) continue;
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, text.replaceAll('__NAME__', name));
    written.push(file);
  }
  const where = relative(io.cwd, root) || '.';
  io.stdout.write(`created a lakeloop project in ${root}:\n${written.map((f) => `  ${f}`).join('\n')}\n\n`);
  io.stdout.write(
    [
      'next:',
      ...(where === '.' ? [] : [`  cd ${where}`]),
      '  npm install',
      '  npx lakeloop ingest events --file data/sample.ndjson',
      '  npx lakeloop run',
      '  npx lakeloop query "select * from gold.daily_events order by day, kind"',
      '',
    ].join('\n'),
  );
}

const FILES: Readonly<Record<string, string>> = {
  'package.json': `${JSON.stringify(
    { name: '__NAME__', private: true, type: 'module', scripts: { start: 'lakeloop serve', test: 'lakeloop test' }, dependencies: { lakeloop: '^0.1.0' } },
    null,
    2,
  )}\n`,
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
kind: full
owner: me
tests:
  - not_null: [event_id, event_ts]
  - unique: [event_id]
*/
-- One row per event: re-deliveries of the same event_id collapse to the first landing.
SELECT event_id, user_id, kind, amount, event_ts, CAST(timezone('UTC', event_ts) AS DATE) AS day
FROM bronze.events
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _ingested_at, _ingest_id) = 1
`,
  'sql/gold/daily_events.sql': `/*
kind: full
owner: me
tests:
  - not_null: [day, kind]
  - expression: events > 0
*/
SELECT day, kind, count(*) AS events, count(DISTINCT user_id) AS users, coalesce(sum(amount), 0) AS amount
FROM silver.events
GROUP BY day, kind
`,
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

A [lakeloop](https://www.npmjs.com/package/lakeloop) project.

\`\`\`sh
npm install
npx lakeloop ingest events --file data/sample.ndjson   # bronze.events (+ quarantine.events for bad records)
npx lakeloop run                                       # silver.events, gold.daily_events
npx lakeloop query "select * from gold.daily_events order by day, kind"
npx lakeloop serve                                     # POST /ingest/events
npx lakeloop status                                    # tables, jobs: last run, next run
\`\`\`

- \`contracts/\`: one file per source (a zod schema, key, event time, drift policy).
- \`sql/silver\`, \`sql/gold\`: models, one SQL file each, with data tests in the header.
- \`jobs/\`: scheduled jobs, one file each (\`defineJob\`: kind, cron schedule, params, timeout, retries).
- \`lakeloop.config.ts\`: where the lake is, engine limits, file drops and API pulls.
`,
};
