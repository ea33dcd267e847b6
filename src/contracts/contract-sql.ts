import { assert } from '../core/index.js';
import { quoteIdent, quoteList, quoteLiteral } from '../engine/index.js';
import { isDecimalType, type ColumnCheck, type ContractColumn, type ContractColumnType, type ContractLiteral } from './contract-columns.js';
import { INTERNAL_PREFIX, RESERVED_COLUMNS, type Contract } from './define-contract.js';

/** A column added to a source by drift policy `evolve`: nullable, typed, unchecked. */
export interface ExtraColumn {
  readonly name: string;
  readonly type: ContractColumnType;
}

export interface ContractSqlOptions {
  /** Columns added by `evolve` (from `unknownFieldsSql`): extracted like optional fields. */
  readonly extraColumns?: readonly ExtraColumn[];
}

/** The Debezium operations a CDC contract accepts: create, update, delete, read (snapshot). */
export const CDC_OPS: readonly string[] = Object.freeze(['c', 'u', 'd', 'r']);

/** Longest slice of an offending value quoted in a reject reason. */
const VALUE_SHOWN = 80;

/**
 * THE validation query of a source: one pass over `input` that types every record by the
 * contract and says, per record, the first way it breaks the contract — so one result
 * splits into bronze (`_reject_reason IS NULL`) and quarantine (the rest, with `_raw`).
 *
 * `input` is a relation (a table name or a parenthesised query) with `_line BIGINT` (the
 * record's 1-based number), `_raw VARCHAR` (its text) and `_json JSON` (the parsed record;
 * NULL when the text is not valid JSON — see `contractInputSql`). The result has:
 * - every contract field as a typed column (schema order), then each `extraColumns` entry;
 * - `event_date DATE`: the UTC date of the event-time column;
 * - CDC contracts only: `_op VARCHAR` (c/u/d/r), `_cdc_ts_ms BIGINT`, `_source_position VARCHAR`;
 * - `_line`, `_raw`;
 * - `rescue` and `evolve` only: `_rescued JSON`, the undeclared top-level fields as an
 *   object (NULL when none; under `evolve`, those not yet in `extraColumns`);
 * - `_reject_reason VARCHAR`, `_reject_field VARCHAR`: NULL for a valid record.
 *
 * DuckDB parses each record once into a map of its top-level fields; types are checked on
 * the JSON text of each value (a string "12" is not an integer) and converted with
 * TRY_CAST, so a bad value becomes a reject reason, never a failed query. Date-times
 * accept ISO 8601 with `Z` or an offset; a value without one is read in the session time
 * zone, which `Engine` pins to UTC. Optional fields accept `null` as well as absence.
 *
 * @example
 * const sql = contractSql(orders, '(SELECT * FROM raw_batch)');
 * await engine.run(`CREATE TEMP TABLE checked AS ${sql}`);
 * // bronze: WHERE _reject_reason IS NULL; quarantine: WHERE _reject_reason IS NOT NULL
 */
export function contractSql(contract: Contract, input: string, options: ContractSqlOptions = {}): string {
  const fields = fieldsOf(contract, options.extraColumns ?? []);
  const known = quoteList(fields.map((f) => f.name));
  const values = fields.map((f) => `CAST(map_extract_value(__ll_m, ${quoteLiteral(f.name)}) AS VARCHAR) AS ${v(f)}`);
  const strings = fields.filter((f) => isStringBased(f.type)).map((f) => `${unquote(v(f))} AS ${s(f)}`);
  const typed = fields.map((f) => `${typedExpr(f, contract.cdc)} AS ${c(f)}`);
  const eventTime = fields.find((f) => f.column?.name === contract.eventTime);
  assert(eventTime !== undefined, `contract ${contract.source} has no event-time column ${contract.eventTime}`);
  const eventDate = contract.cdc
    ? `COALESCE(CAST(timezone('UTC', ${c(eventTime)}) AS DATE), CASE WHEN __ll_op = 'd' THEN CAST(epoch_ms(_cdc_ts_ms) AS DATE) END)`
    : `CAST(timezone('UTC', ${c(eventTime)}) AS DATE)`;
  // Most records carry no undeclared field: the key list is only filtered when the map holds more keys than declared ones found.
  // JSON null comes out of the map as SQL NULL, so a NULL value is told from an absent key by map_contains (only then).
  const present = fields.map((f) => `(${v(f)} IS NOT NULL OR map_contains(__ll_m, ${quoteLiteral(f.name)}))::INTEGER`).join(' + ');
  const unknown = `CASE WHEN cardinality(__ll_m) > ${present} THEN list_filter(map_keys(__ll_m), lambda k: NOT list_contains(${known}, k)) ELSE [] END`;
  const rescued = contract.drift === 'strict' ? [] : [`${rescuedExpr(known)} AS __ll_rescued`];

  const output = [
    ...fields.map((f) => `${c(f)} AS ${quoteIdent(f.name)}`),
    '__ll_event_date AS event_date',
    ...(contract.cdc ? ['__ll_op AS _op', '_cdc_ts_ms', '_source_position'] : []),
    '_line',
    '_raw',
    ...(contract.drift === 'strict' ? [] : ['__ll_rescued AS _rescued']),
    '__ll_reject.reason AS _reject_reason',
    '__ll_reject.field AS _reject_field',
  ];
  return [
    `SELECT ${output.join(', ')}`,
    `FROM (SELECT *, ${[`${rejectExpr(contract, fields, eventTime)} AS __ll_reject`, `${eventDate} AS __ll_event_date`, ...rescued].join(', ')}`,
    `FROM (SELECT *, ${typed.join(', ')}`,
    `FROM (SELECT *, ${[...strings, `${present} AS __ll_present`, `${unknown} AS __ll_unknown`].join(', ')}`,
    `FROM (SELECT *, ${values.join(', ')}`,
    `FROM (${recordsSql(contract, input)})))))`,
  ].join('\n');
}

/**
 * The undeclared top-level fields of the records in `input` (same relation as
 * `contractSql`), for drift policy `evolve`: one row per field with `name VARCHAR`,
 * `type VARCHAR` (BIGINT, DOUBLE, BOOLEAN or VARCHAR when every non-null value has that
 * JSON type — integers and decimals together are DOUBLE — else JSON) and `records BIGINT`,
 * in order of first appearance. Names a column cannot take (reserved, empty, equal to
 * another column but for case) are left out: those fields stay in `_rescued`.
 *
 * @example
 * const found = await engine.all(unknownFieldsSql(orders, 'raw_batch'));
 * // [{ name: 'gift_wrap', type: 'BOOLEAN', records: '12' }] → add the column, then
 * contractSql(orders, 'raw_batch', { extraColumns: [{ name: 'gift_wrap', type: 'BOOLEAN' }] });
 */
export function unknownFieldsSql(contract: Contract, input: string, options: ContractSqlOptions = {}): string {
  const fields = fieldsOf(contract, options.extraColumns ?? []);
  const known = quoteList(fields.map((f) => f.name));
  const taken = quoteList([...fields.map((f) => f.name.toLowerCase()), ...RESERVED_COLUMNS]);
  const isInt = `(NOT regexp_matches(__ll_value, '[.eEnN]') AND TRY_CAST(__ll_value AS BIGINT) IS NOT NULL)`;
  return [
    'SELECT name, CASE',
    "  WHEN n_nested > 0 OR n_str + n_bool + n_num = 0 THEN 'JSON'",
    "  WHEN n_str > 0 THEN CASE WHEN n_bool + n_num = 0 THEN 'VARCHAR' ELSE 'JSON' END",
    "  WHEN n_bool > 0 THEN CASE WHEN n_num = 0 THEN 'BOOLEAN' ELSE 'JSON' END",
    "  WHEN n_int = n_num THEN 'BIGINT' ELSE 'DOUBLE' END AS type, records",
    'FROM (SELECT __ll_entry.key AS name, min(_line) AS first_line, count(*) AS records,',
    `  count(*) FILTER (WHERE starts_with(__ll_value, '"')) AS n_str,`,
    `  count(*) FILTER (WHERE __ll_value IN ('true', 'false')) AS n_bool,`,
    `  count(*) FILTER (WHERE starts_with(__ll_value, '{') OR starts_with(__ll_value, '[')) AS n_nested,`,
    `  count(*) FILTER (WHERE NOT regexp_matches(__ll_value, '^["{\\[tfn]')) AS n_num,`,
    `  count(*) FILTER (WHERE NOT regexp_matches(__ll_value, '^["{\\[tfn]') AND ${isInt}) AS n_int`,
    '  FROM (SELECT _line, __ll_entry, CAST(__ll_entry.value AS VARCHAR) AS __ll_value',
    `    FROM (SELECT _line, unnest(list_filter(map_entries(__ll_m), lambda e: NOT list_contains(${known}, e.key))) AS __ll_entry`,
    `      FROM (${recordsSql(contract, input)})))`,
    '  GROUP BY __ll_entry.key)',
    `WHERE name <> '' AND NOT list_contains(${taken}, lower(name)) AND NOT starts_with(lower(name), ${quoteLiteral(INTERNAL_PREFIX)})`,
    'QUALIFY row_number() OVER (PARTITION BY lower(name) ORDER BY first_line, name) = 1',
    'ORDER BY first_line, name',
  ].join('\n');
}

/**
 * The fast path of `contractSql` for a batch that is expected to be clean. `input` is a
 * relation with one JSON column per field (contract fields, then `extraColumns`), named as the
 * field and SQL NULL where the record has `null` or lacks the field: what DuckDB's
 * `read_ndjson(..., records = true, maximum_depth = 1)` returns when its columns are the
 * fields, and that reader itself refuses a line that is not a JSON object, repeats a key or
 * has a key outside its columns. The result has the typed fields (schema order) and
 * `event_date`, as `contractSql` types them; the first record that would get a reject reason
 * (a missing/null required field, a wrong type, a failed check) raises an `error()` instead,
 * so the caller runs `contractSql`, which says why. Undefined for CDC contracts.
 *
 * @example
 * const sql = contractFastSql(orders, `(SELECT * FROM read_ndjson('batch.ndjson', records = true, maximum_depth = 1))`);
 * await engine.run(`CREATE TEMP TABLE checked AS ${sql}`); // fails when a record needs the full check
 */
export function contractFastSql(contract: Contract, input: string, options: ContractSqlOptions = {}): string | undefined {
  if (contract.cdc) return undefined;
  const fields = fieldsOf(contract, options.extraColumns ?? []);
  const eventTime = fields.find((f) => f.column?.name === contract.eventTime);
  assert(eventTime !== undefined, `contract ${contract.source} has no event-time column ${contract.eventTime}`);
  // The JSON text of each value, as contractSql reads it from its map (both re-serialised by DuckDB's JSON writer).
  const values = fields.map((f) => `CAST(${quoteIdent(f.name)} AS VARCHAR) AS ${v(f)}`);
  // A string's text; the guard below makes sure the value is a JSON string (from_json would also print a number).
  const strings = fields.filter((f) => isStringBased(f.type)).map((f) => `from_json(${quoteIdent(f.name)}, '"VARCHAR"') AS ${s(f)}`);
  const typed = fields.map((f) => `${typedExpr(f, false, (g) => quoteIdent(g.name))} AS ${c(f)}`);
  const clean = fields.map((f) => cleanCondition(f));
  const output = [...fields.map((f) => `${c(f)} AS ${quoteIdent(f.name)}`), `${utcDate(c(eventTime))} AS event_date`];
  // The checks as one projected column, tested by a single CASE: DuckDB evaluates a conjunction
  // in a projection more cheaply than as the condition of a CASE (no selection vectors to sort).
  return [
    `SELECT ${output.join(', ')}`,
    `FROM (SELECT *, ${clean.length ? clean.map((x) => `(${x})`).join(' AND ') : 'true'} AS __ll_ok`,
    `FROM (SELECT *, ${typed.join(', ')}`,
    `FROM (SELECT *, ${strings.length ? strings.join(', ') : 'NULL AS __ll_none'}`,
    `FROM (SELECT *, ${values.join(', ')} FROM ${input} AS __ll_in))))`,
    `WHERE CASE WHEN __ll_ok THEN true ELSE error(${quoteLiteral(FAST_PATH_MISS)}) END`,
  ].join('\n');
}

/**
 * When one field of a record passes the fast path's check: true only where `rejectExpr`
 * finds nothing wrong with the field, and NULL or false elsewhere (the conjunction of all
 * fields is tested with CASE WHEN, where NULL fails like false). So a present value's type and
 * checks need no NULL guards: a NULL there already fails. Fewer terms than one per rule: a
 * VARCHAR that is a JSON string always has text, so its only type test is the quote.
 */
function cleanCondition(f: Field): string {
  const value = v(f);
  const typed = c(f);
  const terms: string[] = [];
  if (isStringBased(f.type)) terms.push(`starts_with(${value}, '"')`);
  if (f.type === 'DOUBLE' || f.type === 'TIMESTAMP WITH TIME ZONE' || f.type === 'DATE') terms.push(`isfinite(${typed})`);
  else if (f.type !== 'VARCHAR') terms.push(`${typed} IS NOT NULL`);
  const checks = (f.column?.checks ?? []).map((check) => checkSql(check, typed, f.type)[0]);
  const present = [...terms, ...(f.column?.default === undefined ? checks : [])].map((t) => `(${t})`).join(' AND ');
  // A required field must be there; an absent optional one passes (a default is checked either way, as rejectExpr does).
  const condition = f.column?.required ? present : `(${value} IS NULL OR (${present}))`;
  if (f.column?.default === undefined || checks.length === 0) return condition;
  return [condition, ...checks.map((check) => `(${check}) IS NOT FALSE`)].join(' AND ');
}

/** The message of the error `contractFastSql` raises for a record it cannot pass. */
export const FAST_PATH_MISS = 'lakeloop: record needs the full contract check';

/**
 * `CAST(timezone('UTC', ts) AS DATE)` without ICU's calendar (the bulk of that expression's
 * cost): whole days since the epoch, for instants from 1970 on (integer division truncates); older ones take ICU's way.
 */
function utcDate(ts: string): string {
  const day = 86_400_000_000;
  return `CASE WHEN ${ts} >= TIMESTAMPTZ '1970-01-01 00:00:00+00' THEN DATE '1970-01-01' + CAST(epoch_us(${ts}) // ${day} AS INTEGER) ELSE CAST(timezone('UTC', ${ts}) AS DATE) END`;
}

/**
 * The input relation `contractSql` expects, from a relation of raw records (`_line`,
 * `_raw`): `_json` is the parsed record, NULL when `_raw` is not valid JSON.
 *
 * @example
 * contractInputSql(`(SELECT row_number() OVER () AS _line, _raw FROM read_csv('batch.ndjson', columns={'_raw': 'VARCHAR'}, delim=chr(1), quote='', escape='', header=false))`);
 */
export function contractInputSql(raw: string): string {
  return `SELECT _line, _raw, TRY_CAST(_raw AS JSON) AS _json FROM ${raw} AS __ll_raw`;
}

/** A field the SQL extracts: a contract column, or an evolved one (`column` undefined). */
interface Field {
  readonly index: number;
  readonly name: string;
  readonly type: ContractColumnType;
  readonly column: ContractColumn | undefined;
  readonly key: boolean;
}

function fieldsOf(contract: Contract, extra: readonly ExtraColumn[]): Field[] {
  const fields: Field[] = contract.columns.map((column, index) => ({
    index,
    name: column.name,
    type: column.duckdbType,
    column,
    key: contract.key.includes(column.name),
  }));
  const taken = new Set([...fields.map((f) => f.name.toLowerCase()), ...RESERVED_COLUMNS]);
  for (const column of extra) {
    const lower = column.name.toLowerCase();
    assert(column.name !== '' && !taken.has(lower) && !lower.startsWith(INTERNAL_PREFIX), `extra column "${column.name}" of ${contract.source} clashes with another column`);
    taken.add(lower);
    fields.push({ index: fields.length, name: column.name, type: column.type, column: undefined, key: false });
  }
  return fields;
}

const v = (f: Field): string => `__ll_v${f.index}`;
const s = (f: Field): string => `__ll_s${f.index}`;
const c = (f: Field): string => `__ll_c${f.index}`;

function isStringBased(type: ContractColumnType): boolean {
  return type === 'VARCHAR' || type === 'TIMESTAMP WITH TIME ZONE' || type === 'DATE';
}

/**
 * A JSON string value's text. Map values come back re-serialized by DuckDB, so a string
 * without a backslash has no escapes and is its quotes' content; others go through the parser.
 */
function unquote(json: string): string {
  return `CASE WHEN NOT starts_with(${json}, '"') THEN NULL WHEN contains(${json}, '\\') THEN json_extract_string(${json}, '$') ELSE substr(${json}, 2, length(${json}) - 2) END`;
}

/** The field's value as its column type; NULL when absent, null or of another JSON type. */
function typedExpr(f: Field, cdc: boolean, jsonOf: (f: Field) => string = (g) => `map_extract_value(__ll_m, ${quoteLiteral(g.name)})`): string {
  const value = v(f);
  const text = s(f);
  let expr: string;
  if (isDecimalType(f.type)) {
    // A value with more decimals than the scale would be rounded by the cast: it is a wrong type instead (the double it parses to differs).
    const exact = `TRY_CAST(${value} AS ${f.type})`;
    expr = `CASE WHEN TRY_CAST(${value} AS DOUBLE) = ${exact} THEN ${exact} END`;
  } else switch (f.type) {
    case 'VARCHAR':
      expr = text;
      break;
    case 'TIMESTAMP WITH TIME ZONE':
      // Debezium sends timestamps without a zone as epoch integers (ms, µs or ns, told apart by size).
      expr = cdc
        ? `CASE WHEN ${text} IS NOT NULL THEN TRY_CAST(${text} AS TIMESTAMPTZ) WHEN TRY_CAST(${value} AS BIGINT) IS NOT NULL THEN ${epochExpr(`TRY_CAST(${value} AS BIGINT)`)} END`
        : `TRY_CAST(${text} AS TIMESTAMPTZ)`;
      break;
    case 'DATE': {
      const date = `CASE WHEN regexp_full_match(${text}, '\\d{4}-\\d{2}-\\d{2}') THEN TRY_CAST(${text} AS DATE) END`;
      // Debezium's io.debezium.time.Date: days since 1970-01-01.
      expr = cdc ? `CASE WHEN ${text} IS NOT NULL THEN ${date} WHEN TRY_CAST(${value} AS INTEGER) IS NOT NULL THEN DATE '1970-01-01' + TRY_CAST(${value} AS INTEGER) END` : date;
      break;
    }
    case 'BIGINT':
      // 12.0 and 1e3 are integers (as zod's z.int() sees them); 12.5 is not, although TRY_CAST would round it.
      expr = `CASE WHEN contains(${value}, '.') OR contains(${value}, 'e') OR contains(${value}, 'E') THEN CASE WHEN TRY_CAST(${value} AS DOUBLE) = trunc(TRY_CAST(${value} AS DOUBLE)) THEN TRY_CAST(TRY_CAST(${value} AS DOUBLE) AS BIGINT) END ELSE TRY_CAST(${value} AS BIGINT) END`;
      break;
    case 'DOUBLE':
      expr = `TRY_CAST(${value} AS DOUBLE)`;
      break;
    case 'BOOLEAN':
      expr = `CASE ${value} WHEN 'true' THEN true WHEN 'false' THEN false END`;
      break;
    case 'JSON': {
      const json = jsonOf(f);
      const kind = f.column?.jsonKind ?? 'any';
      const accept = kind === 'object' ? `starts_with(${value}, '{')` : kind === 'array' ? `starts_with(${value}, '[')` : `${value} IS NOT NULL`;
      expr = `CASE WHEN ${accept} THEN ${json} END`;
      break;
    }
  }
  const fallback = f.column?.default;
  if (fallback !== undefined) expr = `CASE WHEN ${value} IS NULL THEN TRY_CAST(${literal(fallback)} AS ${f.type}) ELSE ${expr} END`;
  return expr;
}

function epochExpr(n: string): string {
  return `timezone('UTC', CASE WHEN abs(${n}) < 100000000000000 THEN epoch_ms(${n}) WHEN abs(${n}) < 100000000000000000 THEN make_timestamp(${n}) ELSE make_timestamp(${n} // 1000) END)`;
}

/** The first violation as `{reason, field}`, NULL for a valid record. */
function rejectExpr(contract: Contract, fields: readonly Field[], eventTime: Field): string {
  const when: string[] = [];
  const reject = (condition: string, reason: string, field: string | undefined): void => {
    when.push(`WHEN ${condition} THEN {'reason': ${reason}, 'field': ${field === undefined ? 'NULL::VARCHAR' : field}}`);
  };
  const notJson = `CASE WHEN _json IS NULL AND NOT coalesce(json_valid(_raw), false) THEN 'invalid JSON' ELSE 'not a JSON object' END`;
  if (contract.cdc) {
    reject('__ll_outer IS NULL', notJson, undefined);
    reject('__ll_envelope IS NULL', quoteLiteral('payload is not a JSON object'), quoteLiteral('payload'));
    reject('__ll_op IS NULL', quoteLiteral('missing op: not a Debezium change event'), quoteLiteral('op'));
    reject(`__ll_op NOT IN (${CDC_OPS.map(quoteLiteral).join(', ')})`, `'invalid op ' || to_json(__ll_op)::VARCHAR || ' (expected c, u, d or r)'`, quoteLiteral('op'));
    const image = `CASE WHEN __ll_op = 'd' THEN 'before' ELSE 'after' END`;
    reject('__ll_image IS NULL', `'missing ' || ${image} || ' image for op "' || __ll_op || '"'`, image);
    reject('__ll_m IS NULL', `${image} || ' image is not a JSON object'`, image);
  } else {
    reject('__ll_m IS NULL', notJson, undefined);
  }
  // A declared field given twice makes the map larger than what was found; undeclared ones are compared among themselves.
  reject(
    'cardinality(__ll_m) <> __ll_present + len(__ll_unknown) OR (len(__ll_unknown) > 1 AND len(list_distinct(__ll_unknown)) <> len(__ll_unknown))',
    quoteLiteral('duplicate field'),
    duplicateKey(),
  );

  for (const f of fields) {
    const value = v(f);
    const name = quoteLiteral(f.name);
    if (f.column?.required) {
      // A delete's before image may carry only the key (Postgres' default replica identity).
      const relaxed = contract.cdc && !f.key ? ` AND __ll_op <> 'd'` : '';
      reject(`${value} IS NULL${relaxed}`, `CASE WHEN map_contains(__ll_m, ${name}) THEN 'null in required field' ELSE 'missing required field' END`, name);
    }
    const finite = f.type === 'DOUBLE' || f.type === 'TIMESTAMP WITH TIME ZONE' || f.type === 'DATE' ? ` OR NOT isfinite(${c(f)})` : '';
    reject(`${value} IS NOT NULL AND (${c(f)} IS NULL${finite})`, `${quoteLiteral(`wrong type: expected ${expected(f)}, got `)} || ${shown(value)}`, name);
    for (const check of f.column?.checks ?? []) {
      const [condition, message] = checkSql(check, c(f), f.type);
      reject(`NOT (${condition})`, quoteLiteral(message), name);
    }
  }
  if (contract.cdc) {
    reject(`__ll_op = 'd' AND ${c(eventTime)} IS NULL AND _cdc_ts_ms IS NULL`, quoteLiteral(`delete without ${contract.eventTime} or ts_ms: no date to file it under`), quoteLiteral(contract.eventTime));
  }
  if (contract.drift === 'strict') reject('len(__ll_unknown) > 0', quoteLiteral('unknown field (drift policy strict)'), '__ll_unknown[1]');
  return `CASE ${when.join(' ')} END`;
}

function duplicateKey(): string {
  return `list_filter(map_keys(__ll_m), lambda k, i: list_position(map_keys(__ll_m), k) < i)[1]`;
}

function expected(f: Field): string {
  if (f.type !== 'JSON') return f.type;
  const kind = f.column?.jsonKind ?? 'any';
  return kind === 'any' ? 'JSON' : `JSON ${kind}`;
}

/** The offending value as JSON text, cut to `VALUE_SHOWN` characters. */
function shown(value: string): string {
  return `CASE WHEN length(${value}) > ${VALUE_SHOWN} THEN left(${value}, ${VALUE_SHOWN - 3}) || '...' ELSE ${value} END`;
}

function checkSql(check: ColumnCheck, column: string, type: ContractColumnType): [string, string] {
  switch (check.kind) {
    case 'enum':
      return [`${column} IN (${check.values.map(literal).join(', ')})`, `value not in [${check.values.map(String).join(', ')}]`];
    case 'minimum':
      return [`${column} >= ${number(check.value)}`, `below minimum ${check.value}`];
    case 'maximum':
      return [`${column} <= ${number(check.value)}`, `above maximum ${check.value}`];
    case 'exclusiveMinimum':
      return [`${column} > ${number(check.value)}`, `not above exclusive minimum ${check.value}`];
    case 'exclusiveMaximum':
      return [`${column} < ${number(check.value)}`, `not below exclusive maximum ${check.value}`];
    case 'multipleOf': {
      const condition =
        type === 'BIGINT' && Number.isInteger(check.value)
          ? `${column} % ${number(check.value)} = 0`
          : `abs(${column} / ${number(check.value)} - round(${column} / ${number(check.value)})) < 1e-9`;
      return [condition, `not a multiple of ${check.value}`];
    }
    case 'minLength':
      return [`length(${column}) >= ${check.value}`, `shorter than minLength ${check.value}`];
    case 'maxLength':
      return [`length(${column}) <= ${check.value}`, `longer than maxLength ${check.value}`];
    case 'minItems':
      return [`json_array_length(${column}) >= ${check.value}`, `fewer items than minItems ${check.value}`];
    case 'maxItems':
      return [`json_array_length(${column}) <= ${check.value}`, `more items than maxItems ${check.value}`];
    case 'pattern':
      return [
        `regexp_matches(${column}, ${quoteLiteral(check.pattern)})`,
        check.format === undefined ? `does not match pattern ${check.pattern}` : `not a valid ${check.format}`,
      ];
  }
}

function literal(value: ContractLiteral): string {
  if (typeof value === 'string') return quoteLiteral(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return number(value);
}

function number(value: number): string {
  return Number.isSafeInteger(value) ? String(value) : `CAST(${quoteLiteral(String(value))} AS DOUBLE)`;
}

/** `_rescued`: the unknown fields as one JSON object, built as text so duplicate keys cannot fail a map. */
function rescuedExpr(known: string): string {
  const entries = `list_filter(map_entries(__ll_m), lambda e: NOT list_contains(${known}, e.key))`;
  return `CASE WHEN len(__ll_unknown) > 0 THEN CAST('{' || array_to_string(list_transform(${entries}, lambda e: CAST(to_json(e.key) AS VARCHAR) || ':' || coalesce(CAST(e.value AS VARCHAR), 'null')), ',') || '}' AS JSON) END`;
}

/**
 * `input` with `__ll_m`, the map of the record's top-level fields (for CDC: of its image),
 * and for CDC `__ll_envelope`, `__ll_op`, `__ll_image`, `_cdc_ts_ms`, `_source_position`.
 */
function recordsSql(contract: Contract, input: string): string {
  const base = `SELECT _line, _raw, _json FROM ${input} AS __ll_in`;
  if (!contract.cdc) return `SELECT *, TRY_CAST(_json AS MAP(VARCHAR, JSON)) AS __ll_m FROM (${base})`;
  const field = (name: string): string => `map_extract_value(__ll_envelope, ${quoteLiteral(name)})`;
  // Kafka Connect's JSON converter wraps the event as {schema, payload}.
  const envelope = `CASE WHEN __ll_outer IS NULL OR map_contains(__ll_outer, 'op') OR NOT map_contains(__ll_outer, 'payload') THEN __ll_outer ELSE TRY_CAST(map_extract_value(__ll_outer, 'payload') AS MAP(VARCHAR, JSON)) END`;
  const position = [
    '__ll_source_at[1]',
    `CASE WHEN __ll_source_at[2] IS NOT NULL AND __ll_source_at[3] IS NOT NULL THEN __ll_source_at[2] || ':' || __ll_source_at[3] END`,
    '__ll_source_at[3]',
    'CAST(__ll_source AS VARCHAR)',
  ];
  return [
    'SELECT *, TRY_CAST(__ll_image AS MAP(VARCHAR, JSON)) AS __ll_m,',
    `  COALESCE(${position.join(', ')}) AS _source_position`,
    `FROM (SELECT *, CASE WHEN __ll_op = 'd' THEN ${field('before')} ELSE ${field('after')} END AS __ll_image,`,
    `  COALESCE(TRY_CAST(CAST(${field('ts_ms')} AS VARCHAR) AS BIGINT), TRY_CAST(json_extract_string(${field('source')}, '$.ts_ms') AS BIGINT)) AS _cdc_ts_ms,`,
    `  ${field('source')} AS __ll_source,`,
    `  json_extract_string(${field('source')}, ['$.lsn', '$.file', '$.pos']) AS __ll_source_at`,
    `FROM (SELECT *, json_extract_string(${field('op')}, '$') AS __ll_op`,
    `FROM (SELECT *, ${envelope} AS __ll_envelope`,
    `FROM (SELECT *, TRY_CAST(_json AS MAP(VARCHAR, JSON)) AS __ll_outer FROM (${base})))))`,
  ].join('\n');
}
