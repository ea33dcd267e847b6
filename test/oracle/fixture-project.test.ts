import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { copyProject } from '../fixtures/project-copy.js';
import { writeSensorFeed, type SensorFeed } from '../fixtures/sensor-feed.js';
import { fileList, lakeRows, oracleRows, type Columns } from './oracle.js';

/**
 * A second project, of another domain (test/fixtures/sensors-project: building sensors →
 * silver.readings → gold.hourly_device_stats and gold.daily_site_stats, with a custom SQL
 * test), ingested with the CLI from a seeded two-day feed and built by `lakeloop run`.
 * Both gold tables must equal hand-written DuckDB queries over the distinct raw readings.
 */
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'sensors-project');

let dir: string;
let remove: () => Promise<void>;
let project: string;
let feed: SensorFeed;
let engine: Engine;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('oracle-sensors'));
  project = await copyProject(FIXTURE, join(dir, 'sensors'));
  feed = await writeSensorFeed(join(dir, 'feed'));
  engine = await Engine.create({ threads: 2 });
  let landed = 0;
  let quarantined = 0;
  for (const file of feed.files) {
    const run = await cli(['ingest', 'readings', '--file', file, '--json'], project);
    expect(run.code, run.stderr).toBe(0);
    landed += run.json<{ landed: number }>().landed;
    quarantined += run.json<{ quarantined: number }>().quarantined;
  }
  expect({ landed, quarantined }).toEqual({ landed: feed.lines, quarantined: feed.malformed });
});

afterAll(async () => {
  await engine?.close();
  await remove();
});

/** The distinct raw readings, converted to °C and cleaned of glitches: the oracle's silver. */
function clean(): string {
  return `
    raw AS (
      SELECT DISTINCT reading_id, device_id, site, metric, value, unit, battery, CAST(read_at AS TIMESTAMPTZ) AS read_at
      FROM read_ndjson(${fileList(feed.good)}, columns = {
        reading_id: 'VARCHAR', device_id: 'VARCHAR', site: 'VARCHAR', metric: 'VARCHAR', value: 'DOUBLE', unit: 'VARCHAR', battery: 'DOUBLE', read_at: 'VARCHAR'})
    ),
    celsius AS (
      SELECT *, CAST(round(CASE unit WHEN 'F' THEN (value - 32) * 5 / 9 ELSE value END, 2) AS DECIMAL(9, 2)) AS v FROM raw
    ),
    readings AS (
      SELECT reading_id, device_id, site, metric, v AS value, battery, read_at, CAST(read_at AT TIME ZONE 'UTC' AS DATE) AS day
      FROM celsius
      WHERE CASE metric WHEN 'temperature' THEN unit IN ('C', 'F') AND v >= -50 AND v <= 60 ELSE unit = 'pct' AND v >= 0 AND v <= 100 END
    )`;
}

describe('the sensors fixture project', () => {
  it('lakeloop run builds the three models; the custom test and the data tests pass, the old feed is a freshness warning', async () => {
    const run = await cli(['run', '--json'], project);
    expect(run.code, run.stderr).toBe(0);
    const models = run.json<{ models: { model: string; tests: { test: string; status: string }[] }[] }>().models;
    const names = models.map((m) => m.model);
    // the daily stats' custom test reads the hourly stats: they are built first
    expect(names.indexOf('gold.hourly_device_stats')).toBeLessThan(names.indexOf('gold.daily_site_stats'));
    expect(new Set(names)).toEqual(new Set(['silver.readings', 'gold.hourly_device_stats', 'gold.daily_site_stats']));
    const results = models.flatMap((m) => m.tests.map((t) => `${m.model} ${t.test} ${t.status}`));
    expect(results).toContain('gold.daily_site_stats sql(tests/daily_matches_hourly.sql) pass');
    expect(results).toContain('silver.readings freshness(read_at, max_age 30m) warn');
    expect(results.filter((r) => !r.endsWith(' pass'))).toEqual(['silver.readings freshness(read_at, max_age 30m) warn']);
  });

  it('silver.readings holds each valid reading once, in °C, without the glitches', async () => {
    const columns: Columns = { reading_id: 'text', value: 'num', read_at: 'text', read_date: 'text' };
    const expected = await oracleRows(engine, `WITH ${clean()} SELECT reading_id, value, read_at, day AS read_date FROM readings`, columns);
    const actual = await lakeRows(project, 'silver.readings', columns);
    expect(feed.glitches).toBeGreaterThan(5);
    expect(actual.length).toBeGreaterThan(6000);
    expect(actual).toEqual(expected);
  });

  it('gold.hourly_device_stats equals the oracle', async () => {
    const columns: Columns = { device_id: 'text', site: 'text', metric: 'text', hour: 'text', readings: 'num', min_value: 'num', max_value: 'num', avg_value: 'num' };
    const expected = await oracleRows(
      engine,
      `WITH ${clean()}
       SELECT device_id, site, metric, time_bucket(INTERVAL 1 HOUR, read_at) AS hour, count(*) AS readings,
              min(value) AS min_value, max(value) AS max_value, round(avg(value), 2) AS avg_value
       FROM readings GROUP BY ALL`,
      columns,
    );
    const actual = await lakeRows(project, 'gold.hourly_device_stats', columns);
    expect(actual.length).toBe(12 * 2 * 48);
    expect(actual).toEqual(expected);
  });

  it('gold.daily_site_stats equals the oracle', async () => {
    const columns: Columns = {
      site: 'text',
      day: 'text',
      metric: 'text',
      devices: 'num',
      readings: 'num',
      min_value: 'num',
      max_value: 'num',
      avg_value: 'num',
      low_battery_devices: 'num',
    };
    const expected = await oracleRows(
      engine,
      `WITH ${clean()}
       SELECT site, day, metric, count(DISTINCT device_id) AS devices, count(*) AS readings, min(value) AS min_value, max(value) AS max_value,
              round(avg(value), 2) AS avg_value,
              count(DISTINCT CASE WHEN battery < 0.2 THEN device_id END) AS low_battery_devices
       FROM readings GROUP BY ALL`,
      columns,
    );
    const actual = await lakeRows(project, 'gold.daily_site_stats', columns);
    expect(actual.map((r) => `${r['site']} ${r['day']} ${r['metric']}`)).toHaveLength(3 * 2 * 2);
    expect(actual.some((r) => Number(r['low_battery_devices']) > 0)).toBe(true);
    expect(actual).toEqual(expected);
  });
});
