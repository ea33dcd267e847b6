import type { ModelDag } from './model-dag.js';

/** A node of the lineage graph: a contract source, a lake table read by models, or a model. */
export interface LineageNode {
  readonly id: string;
  readonly kind: 'source' | 'table' | 'model';
}

/** The graph `lakeloop lineage` prints: sources → bronze → models. */
export interface LineageGraph {
  readonly nodes: readonly LineageNode[];
  readonly edges: readonly { readonly from: string; readonly to: string }[];
}

/**
 * The lineage of a project: each source feeds `bronze.<source>`, each model reads its
 * upstream tables. Source nodes are named `source:<name>`.
 *
 * @example
 * lineageGraph(dag, ['orders']).edges; // [{ from: 'source:orders', to: 'bronze.orders' }, { from: 'bronze.orders', to: 'silver.orders' }, ...]
 */
export function lineageGraph(dag: ModelDag, sources: readonly string[]): LineageGraph {
  const nodes = new Map<string, LineageNode>();
  const edges: { from: string; to: string }[] = [];
  for (const source of [...sources].sort()) {
    nodes.set(`source:${source}`, { id: `source:${source}`, kind: 'source' });
    nodes.set(`bronze.${source}`, { id: `bronze.${source}`, kind: 'table' });
    edges.push({ from: `source:${source}`, to: `bronze.${source}` });
  }
  for (const model of dag.models) {
    for (const up of model.upstream) {
      if (!nodes.has(up)) nodes.set(up, { id: up, kind: dag.byName.has(up) ? 'model' : 'table' });
      edges.push({ from: up, to: model.name });
    }
    nodes.set(model.name, { id: model.name, kind: 'model' });
  }
  return { nodes: [...nodes.values()], edges };
}
