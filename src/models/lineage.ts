import type { Model } from './model.js';
import type { ModelDag } from './model-dag.js';

/** A node of the lineage graph: a contract source, a lake table read by models, or a model; `domain` when its model header or contract names one. */
export interface LineageNode {
  readonly id: string;
  readonly kind: 'source' | 'table' | 'model';
  readonly domain?: string;
}

/** An edge of the lineage graph; `crossDomain` when both ends have a domain and they differ. */
export interface LineageEdge {
  readonly from: string;
  readonly to: string;
  readonly crossDomain?: true;
}

/** The graph `lakeloop lineage` prints: sources → bronze → models. */
export interface LineageGraph {
  readonly nodes: readonly LineageNode[];
  readonly edges: readonly LineageEdge[];
}

/** What `lineageGraph` draws besides the whole project. */
export interface LineageGraphOptions {
  /** Source → its contract's domain. */
  readonly sourceDomains?: ReadonlyMap<string, string>;
  /** Only the edges into these models (and the sources feeding the bronze tables they read); default every model. */
  readonly models?: readonly Model[];
}

/**
 * The lineage of a project: each source feeds `bronze.<source>`, each model reads its
 * upstream tables. Source nodes are named `source:<name>`. A source and its bronze table take
 * the contract's domain, a model its header's.
 *
 * @example
 * lineageGraph(dag, ['orders']).edges; // [{ from: 'source:orders', to: 'bronze.orders' }, { from: 'bronze.orders', to: 'silver.orders' }, ...]
 * lineageGraph(dag, ['orders'], { sourceDomains: new Map([['orders', 'sales']]) }).edges.find((e) => e.crossDomain)
 * // { from: 'silver.orders', to: 'gold.campaign_orders', crossDomain: true } when gold.campaign_orders has `domain: marketing`
 */
export function lineageGraph(dag: ModelDag, sources: readonly string[], options: LineageGraphOptions = {}): LineageGraph {
  const models = options.models ?? dag.models;
  const read = new Set(models.flatMap((m) => m.upstream));
  const domainOf = new Map<string, string>();
  for (const [source, domain] of options.sourceDomains ?? []) {
    domainOf.set(`source:${source}`, domain);
    domainOf.set(`bronze.${source}`, domain);
  }
  for (const model of dag.models) if (model.header.domain !== undefined) domainOf.set(model.name, model.header.domain);
  const node = (id: string, kind: LineageNode['kind']): LineageNode => {
    const domain = domainOf.get(id);
    return domain === undefined ? { id, kind } : { id, kind, domain };
  };
  const edge = (from: string, to: string): LineageEdge => {
    const [a, b] = [domainOf.get(from), domainOf.get(to)];
    return a !== undefined && b !== undefined && a !== b ? { from, to, crossDomain: true } : { from, to };
  };
  const nodes = new Map<string, LineageNode>();
  const edges: LineageEdge[] = [];
  for (const source of [...sources].sort()) {
    if (options.models && !read.has(`bronze.${source}`)) continue;
    nodes.set(`source:${source}`, node(`source:${source}`, 'source'));
    nodes.set(`bronze.${source}`, node(`bronze.${source}`, 'table'));
    edges.push(edge(`source:${source}`, `bronze.${source}`));
  }
  for (const model of models) {
    for (const up of model.upstream) {
      if (!nodes.has(up)) nodes.set(up, node(up, dag.byName.has(up) ? 'model' : 'table'));
      edges.push(edge(up, model.name));
    }
    nodes.set(model.name, node(model.name, 'model'));
  }
  return { nodes: [...nodes.values()], edges };
}
