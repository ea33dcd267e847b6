import { nearMisses } from '../core/index.js';
import type { Model } from './model.js';
import { withDownstream, type ModelDag } from './model-dag.js';

/**
 * One parsed selector (dbt's grammar, a subset): what it matches and whether the models
 * upstream (`+` before) and downstream (`+` after) of the matches come with them.
 *
 * @example
 * parseSelector('+silver.orders+') // { text: '+silver.orders+', method: 'name', value: 'silver.orders', upstream: true, downstream: true }
 * parseSelector('silver.*')        // { text: 'silver.*', method: 'layer', value: 'silver', upstream: false, downstream: false }
 * parseSelector('domain:sales')    // { text: 'domain:sales', method: 'domain', value: 'sales', upstream: false, downstream: false }
 */
export interface Selector {
  readonly text: string;
  readonly method: 'name' | 'layer' | 'owner' | 'domain';
  readonly value: string;
  readonly upstream: boolean;
  readonly downstream: boolean;
}

/** A selector that matched no model, with the near misses worth suggesting. */
export interface UnknownSelector {
  readonly selector: string;
  /** Selectors that would have matched, nearest first (Levenshtein distance ≤ 2), e.g. `silver.orders` for `silver.orderz`. */
  readonly suggestions: readonly string[];
}

/** What `resolveSelectors` selected: the models in DAG order, and the selectors that matched nothing. */
export interface Selection {
  readonly models: readonly Model[];
  readonly unknown: readonly UnknownSelector[];
}

/**
 * Parses a selector: `name` (`silver.orders`), `layer.*` (`silver.*`), `owner:NAME`,
 * `domain:NAME`, each optionally with `+` before (and its upstream models) and/or after
 * (and its downstream models). Returns undefined for text that is no selector (empty, or
 * only `+`).
 */
export function parseSelector(text: string): Selector | undefined {
  const trimmed = text.trim();
  const upstream = trimmed.startsWith('+');
  const downstream = trimmed.length > 1 && trimmed.endsWith('+');
  const body = trimmed.slice(upstream ? 1 : 0, downstream ? -1 : undefined);
  if (body === '' || body.includes('+')) return undefined;
  const method = /^(owner|domain):(.+)$/.exec(body);
  if (method) return { text: trimmed, method: method[1] as 'owner' | 'domain', value: method[2] as string, upstream, downstream };
  if (body.endsWith('.*')) return { text: trimmed, method: 'layer', value: body.slice(0, -2), upstream, downstream };
  return { text: trimmed, method: 'name', value: body, upstream, downstream };
}

/**
 * The models the `select` selectors match (every model when none is given) minus those the
 * `exclude` selectors match, in DAG order. Selectors that match nothing come back in
 * `unknown` with near misses; an expected "nothing", so the caller decides how to report it.
 *
 * @example
 * const { models, unknown } = resolveSelectors(dag, ['silver.orders+'], ['gold.order_funnel']);
 * models.map((m) => m.name) // ['silver.orders', 'gold.customer_lifetime_value', 'gold.daily_revenue']
 * resolveSelectors(dag, ['silver.orderz']).unknown // [{ selector: 'silver.orderz', suggestions: ['silver.orders'] }]
 */
export function resolveSelectors(dag: ModelDag, select: readonly string[], exclude: readonly string[] = []): Selection {
  const unknown: UnknownSelector[] = [];
  const union = (texts: readonly string[]): Set<string> => {
    const names = new Set<string>();
    for (const text of texts) {
      const matched = matchSelector(dag, text);
      if (matched.size === 0) unknown.push({ selector: text, suggestions: suggestionsFor(dag, text) });
      for (const name of matched) names.add(name);
    }
    return names;
  };
  const included = select.length ? union(select) : new Set(dag.models.map((m) => m.name));
  const excluded = union(exclude);
  return { models: dag.models.filter((m) => included.has(m.name) && !excluded.has(m.name)), unknown };
}

/**
 * What a reconcile or replay recomputes: the models `select` matches (every model when none
 * is given) and everything downstream of them — a correction must flow downstream — minus
 * what `exclude` matches, in DAG order. Selectors that match nothing come back in `unknown`.
 *
 * @example
 * recomputeSelection(dag, ['silver.orders'], ['gold.order_funnel']).models.map((m) => m.name)
 * // ['silver.orders', 'gold.customer_lifetime_value', 'gold.daily_revenue']
 */
export function recomputeSelection(dag: ModelDag, select: readonly string[], exclude: readonly string[] = []): Selection {
  const chosen = resolveSelectors(dag, select);
  const excluded = exclude.length ? resolveSelectors(dag, exclude) : { models: [], unknown: [] };
  const leftOut = new Set(excluded.models.map((m) => m.name));
  const selected = select.length ? withDownstream(dag.models, chosen.models.map((m) => m.name)) : dag.models;
  return { models: selected.filter((m) => !leftOut.has(m.name)), unknown: [...chosen.unknown, ...excluded.unknown] };
}

/** The names of the models one selector matches (empty when it matches none or is no selector). */
function matchSelector(dag: ModelDag, text: string): Set<string> {
  const selector = parseSelector(text);
  if (!selector) return new Set();
  const matches = new Set(dag.models.filter((m) => matchesModel(selector, m)).map((m) => m.name));
  const result = new Set(matches);
  if (selector.upstream) {
    const visit = (name: string): void => {
      for (const up of dag.byName.get(name)?.upstream ?? []) {
        if (!dag.byName.has(up) || result.has(up)) continue;
        result.add(up);
        visit(up);
      }
    };
    for (const name of matches) visit(name);
  }
  if (selector.downstream) {
    // DAG order: a model comes after everything it reads, so one pass finds the transitive closure.
    const down = new Set(matches);
    for (const model of dag.models) if (model.upstream.some((u) => down.has(u))) down.add(model.name);
    for (const name of down) result.add(name);
  }
  return result;
}

function matchesModel(selector: Selector, model: Model): boolean {
  switch (selector.method) {
    case 'name':
      return model.name === selector.value;
    case 'layer':
      return model.name.startsWith(`${selector.value}.`);
    case 'owner':
      return model.header.owner === selector.value;
    case 'domain':
      return model.header.domain === selector.value;
  }
}

/** Near misses for a selector that matched nothing, written as selectors of the same form (`+` kept). */
function suggestionsFor(dag: ModelDag, text: string): string[] {
  const selector = parseSelector(text);
  if (!selector) return [];
  const candidates = ((): string[] => {
    switch (selector.method) {
      case 'name':
        return dag.models.map((m) => m.name);
      case 'layer':
        return dag.models.map((m) => m.name.slice(0, m.name.indexOf('.')));
      case 'owner':
        return dag.models.flatMap((m) => (m.header.owner === undefined ? [] : [m.header.owner]));
      case 'domain':
        return dag.models.flatMap((m) => (m.header.domain === undefined ? [] : [m.header.domain]));
    }
  })();
  const prefix = selector.method === 'owner' || selector.method === 'domain' ? `${selector.method}:` : '';
  const suffix = selector.method === 'layer' ? '.*' : '';
  return nearMisses(selector.value, candidates).map((near) => `${selector.upstream ? '+' : ''}${prefix}${near}${suffix}${selector.downstream ? '+' : ''}`);
}
