/**
 * A model's (or a custom test's) SELECT made safe to embed in lakeloop's own SQL — as a
 * subquery `(${sql})`, after `CREATE TABLE … AS`, in a `SELECT * FROM (…)` — whatever its
 * author ended it with: the semicolons after its last token are removed (also when comments
 * or blank lines follow them), and it ends with a newline, so a trailing `-- comment` cannot
 * swallow the closing parenthesis. Semicolons and dashes inside strings, quoted names and
 * comments are left alone. A leading CTE (`WITH x AS (…) SELECT …`) needs nothing: DuckDB
 * takes it in a subquery.
 *
 * @example
 * embeddableSql("SELECT 1 AS n; -- done") // "SELECT 1 AS n  -- done\n"
 * `SELECT * FROM (${embeddableSql(model.sql)}) AS t`
 */
export function embeddableSql(sql: string): string {
  const trailing = trailingSemicolons(sql);
  let out = sql;
  for (let i = trailing.length - 1; i >= 0; i--) {
    const at = trailing[i] as number;
    out = `${out.slice(0, at)} ${out.slice(at + 1)}`;
  }
  return `${out.trimEnd()}\n`;
}

/** Offsets of the top-level `;` after the last token that is not whitespace, a comment or a `;`. */
function trailingSemicolons(sql: string): number[] {
  let semicolons: number[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === "'" || c === '"') {
      i = quotedEnd(sql, i, c);
      semicolons = [];
    } else if (c === '$' && /^\$[A-Za-z_0-9]*\$/.test(sql.slice(i))) {
      const tag = (/^\$[A-Za-z_0-9]*\$/.exec(sql.slice(i)) as RegExpExecArray)[0];
      const end = sql.indexOf(tag, i + tag.length);
      i = end < 0 ? sql.length : end + tag.length;
      semicolons = [];
    } else if (c === ';') {
      semicolons.push(i);
      i += 1;
    } else {
      if (!/\s/.test(c)) semicolons = [];
      i += 1;
    }
  }
  return semicolons;
}

/** The offset after a quoted string or name starting at `start` (a doubled quote is an escaped one). */
function quotedEnd(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}
