import { lineageGraph as projectLineage, type LineageNode, type Model, type ModelDag } from '../../models/index.js';
import type { LineageGraph } from './web-console.js';

/**
 * The DAG as the console draws it: the graph `lakeloop lineage` prints (`models/lineageGraph`:
 * each source feeds its bronze table, each model reads its upstream tables, tables no model
 * writes appear as nodes too), with each node's column (`layer`) and a model's kind.
 *
 * @example
 * lineageGraph(['sales'], dag.models); // { nodes: [{ id: 'source:sales', layer: 'source' }, { id: 'bronze.sales', layer: 'bronze' }, ...], edges: [...] }
 */
export function lineageGraph(sources: readonly string[], models: readonly Model[]): LineageGraph {
  const dag: ModelDag = { models, byName: new Map(models.map((m) => [m.name, m])) };
  const graph = projectLineage(dag, sources);
  return { nodes: graph.nodes.map((node) => consoleNode(node, dag)), edges: graph.edges.map(({ from, to }) => ({ from, to })) };
}

/** A node with the page's column: `source` for a source, else the layer its name starts with; a model keeps its kind. */
function consoleNode(node: LineageNode, dag: ModelDag): LineageGraph['nodes'][number] {
  const layer = node.kind === 'source' ? 'source' : node.id.slice(0, node.id.indexOf('.'));
  const kind = dag.byName.get(node.id)?.header.kind;
  return kind === undefined ? { id: node.id, layer } : { id: node.id, layer, kind };
}
