import { Engine } from './src/engine/index.js';
const e = await Engine.create({ threads: 1 });
await e.run(`CREATE TABLE t AS SELECT strftime(TIMESTAMP '2024-05-01' + INTERVAL (i) SECOND, '%Y-%m-%dT%H:%M:%S.%gZ') AS s, '"' || s || '"' AS q, (i % 1000)::VARCHAR AS n, (i % 1000 / 7)::VARCHAR AS d, '{"a":' || n || ',"b":"x","c":true}' AS j FROM range(300000) r(i)`);
console.log(await e.all('SELECT * FROM t LIMIT 2'));
await e.run(`CREATE TABLE m AS SELECT CAST(_raw::JSON AS MAP(VARCHAR, JSON)) AS m, _raw::JSON AS j FROM read_csv('/tmp/lakeloop-contracts/orders-1m.ndjson', columns={'_raw':'VARCHAR'}, delim=chr(1), quote='', escape='', header=false) WHERE json_valid(_raw) LIMIT 300000`);
const keys = ['order_id','customer_id','status','amount','currency','country','item_count','channel','coupon_code','order_ts'];
const vs: Record<string, string> = {
  lookups: `SELECT count(*) FILTER (WHERE ${keys.map(k => `map_extract_value(m, '${k}') IS NOT NULL`).join(' AND ')}) FROM m`,
  lookups_varchar: `SELECT count(*) FILTER (WHERE ${keys.map(k => `CAST(map_extract_value(m, '${k}') AS VARCHAR) IS NOT NULL`).join(' AND ')}) FROM m`,
  one_lookup: `SELECT count(*) FILTER (WHERE map_extract_value(m, 'order_ts') IS NOT NULL) FROM m`,
  unknown_filter: `SELECT count(*) FILTER (WHERE len(list_filter(map_keys(m), lambda k: NOT list_contains(['${keys.join("','")}'], k))) > 0) FROM m`,
  cardinality: `SELECT count(*) FILTER (WHERE cardinality(m) > 9) FROM m`,
  map_values: `SELECT count(*) FILTER (WHERE len(map_values(m)) > 9) FROM m`,
  struct_transform: `SELECT count(*) FILTER (WHERE ${keys.map(k => `s.${k} IS NOT NULL`).join(' AND ')}) FROM (SELECT json_transform(j, '{${keys.map(k => `"${k}":"JSON"`).join(',')}}') AS s FROM m)`,
  map_cast: `SELECT count(CAST(j AS MAP(VARCHAR, JSON))) FROM m`,
};
const best: Record<string, number> = {};
for (let r = 0; r < 3; r++) for (const [k, q] of Object.entries(vs)) { const s = performance.now(); await e.all(q); best[k] = Math.min(best[k] ?? Infinity, performance.now() - s); }
console.log(Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Math.round(v)])));
await e.close();
