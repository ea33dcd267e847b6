import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { loadModels, parseModelFile, parseSelector, recomputeSelection, resolveModels, resolveSelectors, type ModelDag } from '../../src/models/index.js';
import { PROJECT_ROOT } from '../helpers/child.js';

/**
 * Selectors (dbt's grammar) resolved against the default project's DAG:
 * bronze.orders → silver.orders → gold.daily_revenue, gold.customer_lifetime_value;
 * bronze.orders → silver.order_events → gold.order_funnel, gold.customer_lifetime_value;
 * bronze.payments → silver.payments → gold.customer_lifetime_value;
 * bronze.page_views → silver.page_views → gold.order_funnel.
 * Owners come from the files; domains are added here: page views and the funnel are marketing, the rest sales.
 */
const DOMAINS: Record<string, string> = {
  'silver.page_views': 'marketing',
  'gold.order_funnel': 'marketing',
};

let engine: Engine;
let dag: ModelDag;
beforeAll(async () => {
  engine = await Engine.create({ threads: 1 });
  const definitions = (await loadModels(PROJECT_ROOT)).map((d) => ({ ...d, header: { ...d.header, domain: DOMAINS[d.name] ?? 'sales' } }));
  dag = await resolveModels(definitions, { engine, knownTables: ['bronze.orders', 'bronze.payments', 'bronze.page_views'] });
});
afterAll(async () => engine.close());

/** `names` in the DAG's order: what a selection must return. */
const inDagOrder = (names: readonly string[]): string[] => dag.models.map((m) => m.name).filter((n) => names.includes(n));
const ALL = ['silver.orders', 'silver.order_events', 'silver.payments', 'silver.page_views', 'gold.daily_revenue', 'gold.order_funnel', 'gold.customer_lifetime_value'];

describe('parseSelector', () => {
  it.each([
    ['silver.orders', { method: 'name', value: 'silver.orders', upstream: false, downstream: false }],
    ['silver.*', { method: 'layer', value: 'silver', upstream: false, downstream: false }],
    ['silver.orders+', { method: 'name', value: 'silver.orders', upstream: false, downstream: true }],
    ['+gold.daily_revenue', { method: 'name', value: 'gold.daily_revenue', upstream: true, downstream: false }],
    ['+silver.orders+', { method: 'name', value: 'silver.orders', upstream: true, downstream: true }],
    ['owner:finance', { method: 'owner', value: 'finance', upstream: false, downstream: false }],
    ['domain:marketing+', { method: 'domain', value: 'marketing', upstream: false, downstream: true }],
  ])('%s', (text, expected) => {
    expect(parseSelector(text)).toEqual({ text, ...expected });
  });

  it.each(['', '+', '++', 'silver+orders'])('%j is no selector', (text) => {
    expect(parseSelector(text)).toBeUndefined();
  });
});

describe('resolveSelectors', () => {
  it.each<[string, string[], string[], string[]]>([
    ['nothing: every model', [], [], ALL],
    ['a name: exactly that model', ['gold.daily_revenue'], [], ['gold.daily_revenue']],
    ['layer.*', ['silver.*'], [], ['silver.orders', 'silver.order_events', 'silver.payments', 'silver.page_views']],
    ['name+: and downstream', ['silver.orders+'], [], ['silver.orders', 'gold.daily_revenue', 'gold.customer_lifetime_value']],
    ['+name: and upstream', ['+gold.order_funnel'], [], ['silver.order_events', 'silver.page_views', 'gold.order_funnel']],
    ['+name+: both ways', ['+silver.payments+'], [], ['silver.payments', 'gold.customer_lifetime_value']],
    ['+name+ of a middle model', ['+silver.order_events+'], [], ['silver.order_events', 'gold.order_funnel', 'gold.customer_lifetime_value']],
    ['owner:', ['owner:finance'], [], ['gold.daily_revenue', 'gold.customer_lifetime_value']],
    ['domain:', ['domain:marketing'], [], ['silver.page_views', 'gold.order_funnel']],
    ['domain:+ (downstream of a domain)', ['domain:marketing+'], [], ['silver.page_views', 'gold.order_funnel']],
    ['+owner: (upstream of an owner)', ['+owner:growth'], [], ['silver.order_events', 'silver.page_views', 'gold.order_funnel']],
    ['several selectors: their union', ['silver.payments', 'gold.daily_revenue'], [], ['silver.payments', 'gold.daily_revenue']],
    ['--exclude a name', ['silver.orders+'], ['gold.customer_lifetime_value'], ['silver.orders', 'gold.daily_revenue']],
    ['--exclude a layer', ['+gold.order_funnel'], ['silver.*'], ['gold.order_funnel']],
    ['--exclude alone: all but those', [], ['domain:sales'], ['silver.page_views', 'gold.order_funnel']],
    ['--exclude with +: a model and its downstream', [], ['silver.order_events+'], ['silver.orders', 'silver.payments', 'silver.page_views', 'gold.daily_revenue']],
  ])('%s', (_, select, exclude, expected) => {
    const { models, unknown } = resolveSelectors(dag, select, exclude);
    expect(unknown).toEqual([]);
    expect(models.map((m) => m.name)).toEqual(inDagOrder(expected));
  });

  it('returns the models in DAG order: every model after those it reads', () => {
    const order = resolveSelectors(dag, ['+gold.customer_lifetime_value', 'gold.daily_revenue']).models.map((m) => m.name);
    expect(order.indexOf('silver.orders')).toBeLessThan(order.indexOf('gold.daily_revenue'));
    expect(order.indexOf('silver.payments')).toBeLessThan(order.indexOf('gold.customer_lifetime_value'));
  });

  it.each<[string, string[], { selector: string; suggestions: string[] }[]]>([
    ['a misspelt name', ['silver.orderz'], [{ selector: 'silver.orderz', suggestions: ['silver.orders'] }]],
    ['a misspelt name keeps its + in the suggestion', ['+gold.daily_revenu+'], [{ selector: '+gold.daily_revenu+', suggestions: ['+gold.daily_revenue+'] }]],
    ['a name far from every model', ['gold.nope'], [{ selector: 'gold.nope', suggestions: [] }]],
    ['an unknown layer', ['silvr.*'], [{ selector: 'silvr.*', suggestions: ['silver.*'] }]],
    ['an unknown owner', ['owner:finanse'], [{ selector: 'owner:finanse', suggestions: ['owner:finance'] }]],
    ['an unknown domain', ['domain:sale'], [{ selector: 'domain:sale', suggestions: ['domain:sales'] }]],
    ['no selector at all', ['++'], [{ selector: '++', suggestions: [] }]],
  ])('%s comes back unknown, with near misses', (_, select, unknown) => {
    expect(resolveSelectors(dag, select).unknown).toEqual(unknown);
  });

  it('an unknown --exclude selector is unknown too; the others still apply', () => {
    const { models, unknown } = resolveSelectors(dag, ['silver.*'], ['silver.payment', 'silver.orders']);
    expect(unknown).toEqual([{ selector: 'silver.payment', suggestions: ['silver.payments'] }]);
    expect(models.map((m) => m.name)).toEqual(inDagOrder(['silver.order_events', 'silver.payments', 'silver.page_views']));
  });
});

describe('recomputeSelection (reconcile, replay and their jobs)', () => {
  it.each<[string, string[], string[], string[]]>([
    ['nothing: every model', [], [], ALL],
    ['a name: it and everything downstream', ['silver.orders'], [], ['silver.orders', 'gold.daily_revenue', 'gold.customer_lifetime_value']],
    ['layer.*: the layer and what reads it', ['silver.*'], [], ALL],
    ['+name: its upstream too, and their downstream', ['+gold.daily_revenue'], [], ['silver.orders', 'gold.daily_revenue', 'gold.customer_lifetime_value']],
    ['exclude after the downstream is added', ['silver.orders'], ['gold.customer_lifetime_value'], ['silver.orders', 'gold.daily_revenue']],
    ['exclude alone', [], ['gold.*'], ['silver.orders', 'silver.order_events', 'silver.payments', 'silver.page_views']],
    ['domain:', ['domain:marketing'], [], ['silver.page_views', 'gold.order_funnel']],
  ])('%s', (_, select, exclude, expected) => {
    const { models, unknown } = recomputeSelection(dag, select, exclude);
    expect(unknown).toEqual([]);
    expect(models.map((m) => m.name)).toEqual(inDagOrder(expected));
  });

  it('unknown selectors of either list come back with near misses', () => {
    expect(recomputeSelection(dag, ['silver.orderz'], ['gold.nope']).unknown).toEqual([
      { selector: 'silver.orderz', suggestions: ['silver.orders'] },
      { selector: 'gold.nope', suggestions: [] },
    ]);
  });
});

describe('the domain header key', () => {
  it('is read into the header', () => {
    expect(parseModelFile('m.sql', '/*\nkind: full\nowner: growth\ndomain: marketing\n*/\nSELECT 1 AS x\n').header).toMatchObject({ owner: 'growth', domain: 'marketing' });
    expect(parseModelFile('m.sql', 'SELECT 1 AS x\n').header.domain).toBeUndefined();
  });

  it.each([
    ['partiton_by: day', 'partiton_by', 'did you mean partition_by?'],
    ['domian: sales', 'domian', 'did you mean domain?'],
    ['ownr: me', 'ownr', 'did you mean owner?'],
  ])('a misspelt key %j suggests the right one', (line, key, suggestion) => {
    let error: unknown;
    try {
      parseModelFile('sql/silver/a.sql', `/*\nkind: full\n${line}\n*/\nSELECT 1 AS x\n`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`${key}: unknown header key (${suggestion})`);
    expect((error as ConfigError).message).toContain('known: kind, name, partition_by');
  });

  it('a key far from every known one gets the list only', () => {
    expect(() => parseModelFile('a.sql', '/*\nkind: full\ncolour: blue\n*/\nSELECT 1 AS x\n')).toThrow(/colour: unknown header key \(known: kind, /);
  });

  it('a domain must be a plain name', () => {
    expect(() => parseModelFile('a.sql', '/*\nkind: full\ndomain: "two words"\n*/\nSELECT 1 AS x\n')).toThrow(/domain: expected a domain name/);
  });
});
