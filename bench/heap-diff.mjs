// Compares two V8 heap snapshots (`v8.writeHeapSnapshot()`, e.g. the soak's `--snapshot=<dir>`):
// `node bench/heap-diff.mjs first.heapsnapshot last.heapsnapshot [rows]` prints the node kinds
// (type and constructor/name) whose count or shallow size grew most between the two, so a
// structure that gains an entry per batch stands out from the garbage the collector keeps.
import { readFileSync } from 'node:fs';

function summarise(file) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const step = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byKind = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += step) {
    const type = types[nodes[i + typeAt]];
    // Strings and code are grouped by type alone (their "names" are their contents).
    const name = type === 'object' || type === 'native' || type === 'closure' || type === 'hidden' ? strings[nodes[i + nameAt]].slice(0, 60) : '';
    const key = `${type} ${name}`;
    const entry = byKind.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += nodes[i + sizeAt];
    total += nodes[i + sizeAt];
    byKind.set(key, entry);
  }
  return { byKind, total, count: nodes.length / step };
}

const [firstFile, lastFile, rowsArg = '25'] = process.argv.slice(2);
if (!firstFile || !lastFile) {
  console.error('usage: node bench/heap-diff.mjs first.heapsnapshot last.heapsnapshot [rows]');
  process.exit(2);
}
const first = summarise(firstFile);
const last = summarise(lastFile);
const mib = (b) => (b / 1024 / 1024).toFixed(2);
console.log(`nodes ${first.count} → ${last.count}, shallow size ${mib(first.total)} → ${mib(last.total)} MiB`);
const kinds = new Set([...first.byKind.keys(), ...last.byKind.keys()]);
const rows = [...kinds].map((key) => {
  const a = first.byKind.get(key) ?? { count: 0, bytes: 0 };
  const b = last.byKind.get(key) ?? { count: 0, bytes: 0 };
  return { key, count: b.count - a.count, bytes: b.bytes - a.bytes, before: a, after: b };
});
rows.sort((x, y) => y.bytes - x.bytes);
console.log('      Δ MiB    Δ count      after MiB  after count  kind');
for (const r of rows.slice(0, Number(rowsArg))) {
  console.log(`${mib(r.bytes).padStart(11)} ${String(r.count).padStart(10)} ${mib(r.after.bytes).padStart(14)} ${String(r.after.count).padStart(12)}  ${r.key}`);
}
