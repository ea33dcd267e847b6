import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { Lake } from '../../src/table/index.js';
import { createTestS3Store, s3rverTestEndpoint } from '../helpers/s3.js';

/** Delta tables on the S3 protocol (s3rver on loopback), including its missing conditional writes. */
let engine: Engine;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
});

afterAll(async () => {
  await engine.close();
});

describe('a lake on s3rver', () => {
  it('says it runs single-writer, and in-process concurrent commits still all land in order', async () => {
    const { store, cleanup } = await createTestS3Store({}, s3rverTestEndpoint());
    try {
      const notices: string[] = [];
      const lake = await Lake.open({ store, engine, onNotice: (m) => notices.push(m) });
      expect(lake.conditionalWrites).toBe(false);
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/does not enforce conditional writes.*single-writer/);

      const table = await lake.createTable('bronze.events', {
        columns: [
          { name: 'id', type: 'BIGINT' },
          { name: 'day', type: 'DATE' },
        ],
        partitionColumns: ['day'],
      });
      // eight writers in one process race; the commit lock serialises them so none overwrites another
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          table.append(`SELECT range + ${i * 100} AS id, DATE '2026-01-0${1 + (i % 3)}' AS day FROM range(100)`, {
            txn: { appId: `w${i}`, version: 1 },
          }),
        ),
      );
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

      const fresh = await Lake.open({ store, engine });
      const snapshot = await (await fresh.table('bronze.events')).snapshot();
      expect(snapshot.version).toBe(8);
      const rows = await engine.all(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM (${await snapshot.scanSql(store)})`);
      expect(rows).toEqual([{ n: '800', ids: '800' }]);
      expect(snapshot.partitionColumns).toEqual(['day']);
    } finally {
      await cleanup();
    }
  });
});
