import { lineageGraph } from '../../models/index.js';
import type { CommandContext } from '../command-context.js';
import { projectModels } from './project-models.js';

export interface LineageOptions {
  readonly format?: 'text' | 'mermaid' | 'json';
}

/** `lakeloop lineage [--format text|mermaid|json]`: sources → bronze → models, one edge per line, as a mermaid graph, or as JSON. */
export async function lineageCommand(options: LineageOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const session = await context.session();
  const { dag, sources } = await projectModels(context, session);
  const graph = lineageGraph(dag, sources);
  const format = options.format ?? 'text';
  if (format === 'json') {
    io.stdout.write(`${JSON.stringify(graph)}\n`);
    return;
  }
  if (format === 'mermaid') {
    const id = (name: string): string => name.replace(/[^A-Za-z0-9_]/g, '_');
    const lines = ['graph LR'];
    for (const node of graph.nodes) lines.push(node.kind === 'source' ? `  ${id(node.id)}(["${node.id}"])` : `  ${id(node.id)}["${node.id}"]`);
    for (const edge of graph.edges) lines.push(`  ${id(edge.from)} --> ${id(edge.to)}`);
    io.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  for (const edge of graph.edges) io.stdout.write(`${edge.from} -> ${edge.to}\n`);
}
