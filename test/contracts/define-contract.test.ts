import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract, isContract, type ContractDefinition } from '../../src/contracts/index.js';
import { ConfigError } from '../../src/core/index.js';

const schema = z.object({
  order_id: z.string(),
  amount: z.number().nonnegative(),
  note: z.string().optional(),
  meta: z.object({ a: z.string() }),
  order_ts: z.iso.datetime({ offset: true }),
});

const base = { source: 'orders', version: 1, owner: 'checkout', schema, key: ['order_id'], eventTime: 'order_ts' } as const;

/** The issues `defineContract` reports for a definition, as "path: message" lines. */
function issuesOf(definition: unknown): string[] {
  try {
    defineContract(definition as ContractDefinition);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected defineContract to throw');
}

describe('defineContract', () => {
  it('returns a frozen contract with defaults: drift rescue, not CDC, no batch limits', () => {
    const contract = defineContract(base);
    expect(isContract(contract)).toBe(true);
    expect(Object.isFrozen(contract)).toBe(true);
    expect(contract).toMatchObject({ source: 'orders', drift: 'rescue', cdc: false, batch: {}, key: ['order_id'], eventTime: 'order_ts', file: undefined });
    expect(contract.columns.map((c) => c.name)).toEqual(['order_id', 'amount', 'note', 'meta', 'order_ts']);
  });

  it('takes an idempotency window as a duration of at least 1s, 10m when not given', () => {
    expect(defineContract(base)).toMatchObject({ idempotencyWindow: '10m', idempotencyWindowMs: 600_000 });
    expect(defineContract({ ...base, idempotencyWindow: '2h' })).toMatchObject({ idempotencyWindow: '2h', idempotencyWindowMs: 7_200_000 });
    expect(issuesOf({ ...base, idempotencyWindow: 'forever' })).toEqual(['idempotencyWindow: expected a duration of at least 1s, such as 15m, 1h, 1d']);
    expect(issuesOf({ ...base, idempotencyWindow: '500ms' })).toEqual(['idempotencyWindow: expected a duration of at least 1s, such as 15m, 1h, 1d']);
  });

  it('names an event-time field that is not in the schema, and lists the fields', () => {
    const issues = issuesOf({ ...base, eventTime: 'created' });
    expect(issues).toEqual(['eventTime: "created" is not a field of the schema (fields: order_id, amount, note, meta, order_ts)']);
  });

  it('refuses an event-time field that is not a required date-time', () => {
    expect(issuesOf({ ...base, eventTime: 'amount' })).toEqual(['eventTime: "amount" must be a date-time field (z.iso.datetime()), not DOUBLE']);
    const optional = z.object({ order_id: z.string(), order_ts: z.iso.datetime().optional() });
    expect(issuesOf({ ...base, schema: optional })[0]).toContain('eventTime: "order_ts" must be required');
  });

  it('names key fields that are missing, optional or not scalar', () => {
    expect(issuesOf({ ...base, key: ['id'] })[0]).toBe('key[0]: "id" is not a field of the schema (fields: order_id, amount, note, meta, order_ts)');
    expect(issuesOf({ ...base, key: ['order_id', 'note'] })).toEqual([
      'key[1]: "note" must be required (not optional, nullable or defaulted): it identifies the record',
    ]);
    expect(issuesOf({ ...base, key: ['meta'] })).toEqual(['key[0]: "meta" is an object or array; a key field must be a scalar']);
    expect(issuesOf({ ...base, key: [] })).toEqual(['key: expected at least one key field']);
  });

  it('names a field whose type cannot be a column', () => {
    const withDate = z.object({ order_id: z.string(), created: z.date(), order_ts: z.iso.datetime() });
    expect(issuesOf({ ...base, schema: withDate })).toEqual([
      'schema.created: Date cannot be represented in JSON Schema; use a JSON type (e.g. z.iso.datetime() for dates, z.int() for integers)',
    ]);
    const withUnion = z.object({ order_id: z.string(), ref: z.union([z.string(), z.number()]), order_ts: z.iso.datetime() });
    expect(issuesOf({ ...base, schema: withUnion })).toEqual([
      'schema.ref: is a union of string and number; give it one type, or z.json() to keep any JSON value',
    ]);
    const withLookahead = z.object({ order_id: z.string().regex(/^(?!x)/), order_ts: z.iso.datetime() });
    expect(issuesOf({ ...base, schema: withLookahead })[0]).toContain("schema.order_id: pattern \"^(?!x)\" uses lookaround or backreferences");
  });

  it('refuses reserved column names and names that differ only in case', () => {
    const reserved = z.object({ order_id: z.string(), event_date: z.iso.date(), Order_Id: z.string(), order_ts: z.iso.datetime() });
    expect(issuesOf({ ...base, schema: reserved })).toEqual([
      'schema.event_date: "event_date" is a column lakeloop adds itself; rename the field',
      'schema.Order_Id: "Order_Id" and "order_id" differ only in case, and DuckDB column names ignore case',
    ]);
  });

  it('checks the definition itself with zod: source, version, owner, drift, batch, unknown keys', () => {
    const issues = issuesOf({ ...base, source: 'Orders', version: 0, owner: '', drift: 'loose', batch: { maxRecords: -1 }, retention: 3 });
    expect(issues).toEqual([
      'source: expected a snake_case name such as "orders" (lowercase letters, digits, underscores)',
      'version: expected a positive integer',
      'owner: expected the owning team or person',
      'drift: expected "evolve", "rescue" or "strict"',
      'batch.maxRecords: expected a positive integer',
      ': unknown field "retention" (known: source, version, owner, runbook, domain, description, schema, key, eventTime, drift, cdc, batch, idempotencyWindow, freshness, completeness, fileBatch)',
    ]);
    expect(issuesOf({ ...base, schema: { order_id: 'string' } })).toEqual(['schema: expected a zod object schema, e.g. z.object({ ... })']);
  });

  it('labels its error with the source until loadContracts gives it a file', () => {
    try {
      defineContract({ ...base, eventTime: 'created' } as ContractDefinition);
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).file).toBe('contract "orders"');
      expect((error as ConfigError).message).toContain('Invalid config contract "orders":\n  - eventTime: "created" is not a field');
    }
  });
});

describe('defineContract owner and runbook', () => {
  it('keeps the runbook (a URL or a line of text), trimmed, and no runbook is undefined', () => {
    expect(defineContract({ ...base, runbook: ' https://wiki.example/runbooks/orders ' }).runbook).toBe('https://wiki.example/runbooks/orders');
    expect(defineContract({ ...base, runbook: 'replay from the dead-letter bucket, then tell #checkout' }).runbook).toBe('replay from the dead-letter bucket, then tell #checkout');
    expect(defineContract(base).runbook).toBeUndefined();
  });

  it('refuses a blank owner, a runbook that is not http(s) or carries credentials, and says which key a misspelt one means', () => {
    expect(issuesOf({ ...base, owner: '   ' })).toEqual(['owner: expected the owning team or person']);
    expect(issuesOf({ ...base, runbook: '' })).toEqual(['runbook: expected a URL (https://…) or a line of text saying what to do when this alerts']);
    expect(issuesOf({ ...base, runbook: 7 })).toEqual(['runbook: expected a URL (https://…) or a line of text saying what to do when this source alerts']);
    expect(issuesOf({ ...base, runbook: 'file:///etc/runbook' })).toEqual(['runbook: expected an http(s) URL or a line of text, got a file: URL']);
    expect(issuesOf({ ...base, runbook: 'https://me:secret@wiki.example/orders' })).toEqual([
      'runbook: the URL carries a user or password; alerts include the runbook, so link to it without credentials',
    ]);
    expect(issuesOf({ ...base, runBook: 'https://wiki.example/orders' })[0]).toMatch(/^: unknown field "runBook" \(did you mean runbook\?\) \(known: /);
  });
});
