import type { Model } from '../../models/index.js';
import type { LineageGraph } from './web-console.js';

/**
 * The DAG as the console draws it: each source feeds its bronze table, each model reads
 * its upstream tables (tables no model writes, such as bronze, appear as nodes too).
 *
 * @example
 * lineageGraph(['sales'], dag.models); // { nodes: [{ id: 'source:sales', layer: 'source' }, { id: 'bronze.sales', layer: 'bronze' }, ...], edges: [...] }
 */
export function lineageGraph(sources: readonly string[], models: readonly Model[]): LineageGraph {
  const nodes = new Map<string, { id: string; layer: string; kind?: string }>();
  const edges: { from: string; to: string }[] = [];
  const table = (name: string): void => {
    if (!nodes.has(name)) nodes.set(name, { id: name, layer: name.slice(0, name.indexOf('.')) });
  };
  for (const source of [...sources].sort()) {
    nodes.set(`source:${source}`, { id: `source:${source}`, layer: 'source' });
    table(`bronze.${source}`);
    edges.push({ from: `source:${source}`, to: `bronze.${source}` });
  }
  for (const model of models) {
    nodes.set(model.name, { id: model.name, layer: model.name.slice(0, model.name.indexOf('.')), kind: model.header.kind });
    for (const upstream of model.upstream) {
      table(upstream);
      edges.push({ from: upstream, to: model.name });
    }
  }
  return { nodes: [...nodes.values()], edges };
}
