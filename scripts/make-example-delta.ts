/**
 * Writes `examples/delta/people/`: a tiny Delta table that lakeloop did not write, for the
 * README's tour (`lakeloop inspect examples/delta/people`). Two commits, one small Parquet
 * file each, written by DuckDB's COPY; the log is written here by hand, as another Delta
 * writer would, with the `add` stats (numRecords, minValues, maxValues, nullCount) read back
 * from the file. Timestamps are fixed, so running it again gives the same log.
 *
 *   node bin/run-ts.js scripts/make-example-delta.ts [outDir]
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Engine, quoteLiteral } from '../src/engine/index.js';

const out = resolve(process.argv[2] ?? 'examples/delta/people');
const CREATED_MS = Date.UTC(2026, 0, 5, 9, 0, 0);

const commits = [
  {
    file: 'part-00000-3f1c2a7e-0001-4d6b-9a51-1b7e2c9d0a01-c000.snappy.parquet',
    timestampMs: CREATED_MS,
    operation: 'WRITE',
    parameters: { mode: 'ErrorIfExists', partitionBy: '[]' },
    rows: `(1, 'Ada', 'London', 36), (2, 'Grace', 'New York', 45), (3, 'Edsger', 'Rotterdam', NULL)`,
  },
  {
    file: 'part-00000-3f1c2a7e-0002-4d6b-9a51-1b7e2c9d0a02-c000.snappy.parquet',
    timestampMs: CREATED_MS + 3_600_000,
    operation: 'WRITE',
    parameters: { mode: 'Append', partitionBy: '[]' },
    rows: `(4, 'Barbara', 'Boston', 52), (5, 'Donald', 'Stanford', 38)`,
  },
];

const schema = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: true, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: 'city', type: 'string', nullable: true, metadata: {} },
    { name: 'age', type: 'integer', nullable: true, metadata: {} },
  ],
};
const columns = schema.fields.map((field) => field.name);

await rm(out, { recursive: true, force: true });
await mkdir(join(out, '_delta_log'), { recursive: true });
const engine = await Engine.create({ threads: 1 });
try {
  for (const [version, commit] of commits.entries()) {
    const path = join(out, commit.file);
    await engine.run(
      `COPY (SELECT id::BIGINT AS id, name, city, age::INTEGER AS age FROM (VALUES ${commit.rows}) AS t(id, name, city, age) ORDER BY id) ` +
        `TO ${quoteLiteral(path)} (FORMAT parquet, COMPRESSION snappy)`,
    );
    const read = `read_parquet(${quoteLiteral(path)})`;
    const [counts] = await engine.all(
      `SELECT count(*)::INTEGER AS n, ${schema.fields
        .map(({ name: c, type }) => {
          const cast = type === 'string' ? '' : '::INTEGER'; // small numbers: JSON numbers, as Delta's stats hold them
          return `min(${c})${cast} AS "min_${c}", max(${c})${cast} AS "max_${c}", count(*) FILTER (WHERE ${c} IS NULL)::INTEGER AS "nulls_${c}"`;
        })
        .join(', ')} FROM ${read}`,
    );
    const value = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);
    const stats = {
      numRecords: Number(counts!['n']),
      minValues: Object.fromEntries(columns.map((c) => [c, value(counts![`min_${c}`])])),
      maxValues: Object.fromEntries(columns.map((c) => [c, value(counts![`max_${c}`])])),
      nullCount: Object.fromEntries(columns.map((c) => [c, value(counts![`nulls_${c}`])])),
    };
    const actions: object[] = [
      {
        commitInfo: {
          timestamp: commit.timestampMs,
          operation: commit.operation,
          operationParameters: commit.parameters,
          isBlindAppend: true,
          engineInfo: 'hand-written by scripts/make-example-delta.ts',
        },
      },
    ];
    if (version === 0) {
      actions.push({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } });
      actions.push({
        metaData: {
          id: '6c0f5e1a-9d3b-4c2e-8f7a-2b1d4e6f8a90',
          format: { provider: 'parquet', options: {} },
          schemaString: JSON.stringify(schema),
          partitionColumns: [],
          configuration: {},
          createdTime: CREATED_MS,
        },
      });
    }
    actions.push({
      add: {
        path: commit.file,
        partitionValues: {},
        size: (await stat(path)).size,
        modificationTime: commit.timestampMs,
        dataChange: true,
        stats: JSON.stringify(stats),
      },
    });
    const name = `${String(version).padStart(20, '0')}.json`;
    await writeFile(join(out, '_delta_log', name), actions.map((a) => JSON.stringify(a)).join('\n') + '\n');
  }
} finally {
  await engine.close();
}
console.log(`wrote ${out}: ${commits.length} commits`);
