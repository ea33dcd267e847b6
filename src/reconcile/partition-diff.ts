import { LakeloopError } from '../core/index.js';
import { quoteIdent, quoteList, type Engine, type SqlColumn } from '../engine/index.js';

/** What reconciliation found in one output partition (SPEC §7). */
export interface PartitionDiff {
  /** The partition value (`all` for a table without partitions or a `full` model). */
  readonly partition: string;
  /** `match`: nothing to do; `corrected`: published (or would be, on a dry run); `held`: a blocking test failed; `failed`: the recompute failed. */
  status: 'match' | 'corrected' | 'held' | 'failed';
  readonly rowsBefore: number;
  readonly rowsAfter: number;
  /** Rows only in the recomputed partition (matched by key). */
  readonly added: number;
  /** Rows only in the current partition. */
  readonly removed: number;
  /** Keys in both whose other columns differ. */
  readonly changed: number;
  /** Measure column (`measureColumns`) → sum after − sum before. */
  readonly sumDeltas: Readonly<Record<string, number>>;
  /** Order-independent content checksums (hash sums) before and after. */
  readonly checksumBefore: string;
  readonly checksumAfter: string;
  /** Upstream rows that arrived behind the horizon and that this recompute applies. */
  lateRows: number;
  /** The largest (arrival − event time) among them, in seconds, when known. */
  maxLatenessSeconds: number | null;
  /** Why a partition is held or failed; "missing" for a partition the streaming path never wrote. */
  note?: string;
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL)/i;
const FLOATING = /^(FLOAT|DOUBLE|REAL)/i;

/** Names of numbers whose sum means nothing: identifiers, log positions, sequence numbers, ranks, averages. */
const NOT_A_MEASURE = /(_id|_lsn|_seq|_rank|_avg)$|^avg_/i;

/**
 * The columns whose sums a reconcile report compares: the model's `measures:` when it
 * lists them (each must be a numeric column), else every numeric column that is neither
 * the partition column nor part of the key, and whose name does not say it is an id, a
 * position, a sequence number, a rank or an average (`*_id`, `*_lsn`, `*_seq`, `*_rank`,
 * `avg_*`, `*_avg`): an average's sum is meaningless, and one recomputed from its parts
 * is what a reader should compare. Throws a `CONFIG` error naming a listed column that is
 * not a numeric column of the output.
 *
 * @example
 * measureColumns([{ name: 'payment_id', type: 'VARCHAR' }, { name: 'amount', type: 'DECIMAL(18,2)' }, { name: 'source_lsn', type: 'HUGEINT' }], { partitionColumn: 'paid_date', keys: ['payment_id'] });
 * // [{ name: 'amount', type: 'DECIMAL(18,2)' }]
 */
export function measureColumns(
  columns: readonly SqlColumn[],
  options: { readonly partitionColumn: string | undefined; readonly keys: readonly string[]; readonly measures?: readonly string[] | undefined },
): SqlColumn[] {
  const numeric = columns.filter((c) => NUMERIC.test(c.type));
  if (options.measures !== undefined) {
    const byName = new Map(numeric.map((c) => [c.name, c]));
    const unknown = options.measures.filter((name) => !byName.has(name));
    if (unknown.length) {
      throw new LakeloopError('CONFIG', `measures: ${unknown.join(', ')} ${unknown.length === 1 ? 'is not a numeric column' : 'are not numeric columns'} of the model's output (numeric columns: ${numeric.map((c) => c.name).join(', ') || 'none'})`, {
        hint: "Fix the measures: key of the model's header (list numeric columns whose sums mean something, or [] for none).",
      });
    }
    return options.measures.map((name) => byName.get(name) as SqlColumn);
  }
  return numeric.filter((c) => c.name !== options.partitionColumn && !options.keys.includes(c.name) && !NOT_A_MEASURE.test(c.name));
}

/**
 * Diffs two relations with the same columns, partition by partition: row counts, rows
 * added/removed/changed (matched by `keys`, else by every non-numeric column), the sum
 * delta of each measure (`measureColumns`; `measures` is the model's `measures:` key), and an
 * order-independent checksum (floating columns rounded to 6 decimals, so summation order
 * cannot make equal data differ).
 *
 * @example
 * const diffs = await diffPartitions(engine, { before: 'cur', after: 'new', columns, partitionColumn: 'order_date', keys: ['order_id'], partitions: ['2026-01-02'] });
 */
export async function diffPartitions(
  engine: Engine,
  options: {
    before: string;
    after: string;
    columns: readonly SqlColumn[];
    partitionColumn: string | undefined;
    keys: readonly string[];
    partitions: readonly string[];
    measures?: readonly string[] | undefined;
  },
): Promise<PartitionDiff[]> {
  const { columns, partitionColumn } = options;
  const part = partitionColumn === undefined ? `'all'` : `CAST(${quoteIdent(partitionColumn)} AS VARCHAR)`;
  const numeric = measureColumns(columns, options);
  const keys = options.keys.length ? [...options.keys] : columns.filter((c) => !NUMERIC.test(c.type)).map((c) => c.name);
  const hashed = columns.map((c) => (FLOATING.test(c.type) ? `round(${quoteIdent(c.name)}, 6)` : quoteIdent(c.name))).join(', ');
  const sums = numeric.map((c, i) => `, sum(${quoteIdent(c.name)})::DOUBLE AS s${i}`).join('');
  const inWindow = partitionColumn === undefined ? 'true' : `${part} IN ${quoteList(options.partitions.length ? options.partitions : [''])}`;
  const profile = async (relation: string): Promise<Map<string, { rows: number; checksum: string; sums: number[] }>> => {
    const rows = await engine.all(
      `SELECT ${part} AS p, count(*) AS n, CAST(coalesce(sum(hash(${hashed})), 0) AS VARCHAR) AS h${sums} FROM ${relation} WHERE ${inWindow} GROUP BY ALL`,
    );
    return new Map(rows.map((r) => [String(r['p']), { rows: Number(r['n']), checksum: String(r['h']), sums: numeric.map((_, i) => Number(r[`s${i}`] ?? 0)) }]));
  };
  const before = await profile(options.before);
  const after = await profile(options.after);

  // Only partitions whose profiles differ need a row-level diff.
  const differing = [...new Set([...before.keys(), ...after.keys()])].filter((p) => {
    const b = before.get(p);
    const a = after.get(p);
    return b?.rows !== a?.rows || b?.checksum !== a?.checksum;
  });
  const counts = new Map<string, { added: number; removed: number; changed: number }>();
  const keyList = keys.map(quoteIdent).join(', ');
  const only = partitionColumn === undefined ? 'true' : `${part} IN ${quoteList(differing.length ? differing : [''])}`;
  if (differing.length && options.keys.length) {
    // Unique keys: one outer join on (partition, key) with a hash of each row.
    const side = (relation: string): string => `SELECT ${part} AS p, ${keyList}, hash(${hashed}) AS h FROM ${relation} WHERE ${only}`;
    const on = [...keys.map((k) => `a.${quoteIdent(k)} IS NOT DISTINCT FROM b.${quoteIdent(k)}`), 'a.p IS NOT DISTINCT FROM b.p'].join(' AND ');
    const rows = await engine.all(
      `SELECT coalesce(a.p, b.p) AS p, count(*) FILTER (WHERE b.h IS NULL) AS added, count(*) FILTER (WHERE a.h IS NULL) AS removed, ` +
        `count(*) FILTER (WHERE a.h IS NOT NULL AND b.h IS NOT NULL AND a.h <> b.h) AS changed ` +
        `FROM (${side(options.after)}) AS a FULL OUTER JOIN (${side(options.before)}) AS b ON ${on} GROUP BY 1`,
    );
    for (const r of rows) counts.set(String(r['p']), { added: Number(r['added']), removed: Number(r['removed']), changed: Number(r['changed']) });
  } else if (differing.length && keys.length) {
    // No unique key (an aggregate): rows present on one side only, then matched on the non-numeric columns.
    const projected = (relation: string): string => `(SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${relation} WHERE ${only})`;
    const onlyIn = (x: string, y: string): string => `(SELECT * FROM ${projected(x)} EXCEPT ALL SELECT * FROM ${projected(y)})`;
    const rows = await engine.all(
      `WITH a AS (SELECT ${part} AS p, ${keyList} FROM ${onlyIn(options.after, options.before)}), ` +
        `r AS (SELECT ${part} AS p, ${keyList} FROM ${onlyIn(options.before, options.after)}) ` +
        `SELECT p, sum(CASE WHEN side = 'a' THEN 1 ELSE 0 END) AS added, sum(CASE WHEN side = 'r' THEN 1 ELSE 0 END) AS removed, ` +
        `sum(CASE WHEN side = 'both' THEN 1 ELSE 0 END) AS changed FROM (` +
        `SELECT coalesce(a.p, r.p) AS p, CASE WHEN a.p IS NULL THEN 'r' WHEN r.p IS NULL THEN 'a' ELSE 'both' END AS side ` +
        `FROM a FULL OUTER JOIN r ON ${keys.map((k) => `a.${quoteIdent(k)} IS NOT DISTINCT FROM r.${quoteIdent(k)}`).join(' AND ')} AND a.p IS NOT DISTINCT FROM r.p) GROUP BY p`,
    );
    for (const r of rows) counts.set(String(r['p']), { added: Number(r['added']), removed: Number(r['removed']), changed: Number(r['changed']) });
  }
  const names = partitionColumn === undefined ? ['all'] : [...new Set([...options.partitions, ...before.keys(), ...after.keys()])].sort();
  return names.map((partition) => {
    const b = before.get(partition);
    const a = after.get(partition);
    const c = counts.get(partition) ?? { added: 0, removed: 0, changed: 0 };
    const sumDeltas: Record<string, number> = {};
    numeric.forEach((column, i) => {
      const delta = (a?.sums[i] ?? 0) - (b?.sums[i] ?? 0);
      // A DECIMAL's delta is exact to its scale (cents stay cents); others to 6 decimals.
      const unit = 10 ** Math.min(6, Number(/^DECIMAL\(\d+,\s*(\d+)\)/i.exec(column.type)?.[1] ?? 6));
      sumDeltas[column.name] = Math.round(delta * unit) / unit;
    });
    const same = (b?.rows ?? 0) === (a?.rows ?? 0) && (b?.checksum ?? '0') === (a?.checksum ?? '0');
    return {
      partition,
      status: same ? 'match' : 'corrected',
      rowsBefore: b?.rows ?? 0,
      rowsAfter: a?.rows ?? 0,
      added: c.added,
      removed: c.removed,
      changed: c.changed,
      sumDeltas,
      checksumBefore: b?.checksum ?? '0',
      checksumAfter: a?.checksum ?? '0',
      lateRows: 0,
      maxLatenessSeconds: null,
      ...(!b && a ? { note: 'missing: the streaming path never wrote it' } : {}),
    };
  });
}
