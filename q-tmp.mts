import { loadContracts, contractSql, contractInputSql, contractJsonSchema } from './src/contracts/index.js';
import { Engine } from './src/engine/index.js';
const cs = await loadContracts('.');
for (const c of cs.values()) console.log(c.source, c.file, JSON.stringify(c.columns.map(x => [x.name, x.duckdbType, x.required, x.checks.map(k=>k.kind).join('|'), x.unchecked])));
const e = await Engine.create();
const rows = [
  `{"order_id":"ord_1","customer_id":"c1","status":"paid","amount":10.5,"currency":"EUR","country":"DE","item_count":2,"order_ts":"2024-05-01T23:30:00-02:00","gift":true}`,
  `{"order_id":"ord_2","customer_id":"c1","status":"lost","amount":10.5,"currency":"EUR","country":"DE","item_count":2,"order_ts":"2024-05-01T10:00:00Z"}`,
  `{"order_id":"ord_3"`,
  `[1,2]`,
  `{"order_id":"ord_4","customer_id":"c1","status":"paid","amount":-1,"currency":"EUR","country":"DE","item_count":2,"order_ts":"2024-05-01T10:00:00Z"}`,
  `{"order_id":"ord_5","customer_id":"c1","status":"paid","amount":1,"currency":"EUR","country":"DE","item_count":2.5,"order_ts":"yesterday"}`,
  `{"order_id":"ord_6","customer_id":"c1","status":"paid","amount":1,"currency":"EUR","country":"DE","item_count":"2","order_ts":"2024-05-01T10:00:00Z"}`,
  `{"order_id":"ord_7","customer_id":"c1","status":"paid","amount":1,"currency":"EUR","country":"DE","item_count":2.0,"order_ts":"2024-05-01 10:00:00", "coupon_code": null, "x\\"y": [1], "x\\"y": 2}`,
];
await e.run(`CREATE TABLE raw AS SELECT * FROM (VALUES ${rows.map((r, i) => `(${i + 1}, '${r.replaceAll("'", "''")}')`).join(',')}) t(_line, _raw)`);
const sql = contractSql(cs.get('orders')!, `(${contractInputSql('raw')})`);
console.log(sql);
console.table(await e.all(sql));
console.log(await e.describe(sql));
await e.close();
