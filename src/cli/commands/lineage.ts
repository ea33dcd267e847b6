import { lineageGraph, type LineageEdge, type LineageGraph } from '../../models/index.js';
import type { CommandContext } from '../command-context.js';
import { selectModelsOrFail } from './model-selection.js';
import { projectModels } from './project-models.js';

export interface LineageOptions {
  readonly format?: 'text' | 'mermaid' | 'json';
  /** Selectors of models whose incoming edges are left out. */
  readonly exclude?: readonly string[];
}

/**
 * `lakeloop lineage [--format text|mermaid|json] [selectors...] [--exclude selectors...]`:
 * sources → bronze → models (only the edges into the selected models when selectors are
 * given), one edge per line, as a mermaid graph, or as JSON. When models or contracts name a
 * `domain`, text and mermaid group by it and mark the edges that cross domains.
 */
export async function lineageCommand(selected: readonly string[], options: LineageOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const session = await context.session();
  const { dag, sources, contracts } = await projectModels(context, session);
  const exclude = options.exclude ?? [];
  const models = selected.length || exclude.length ? selectModelsOrFail(dag, selected, exclude).models : undefined;
  const sourceDomains = new Map([...contracts.values()].flatMap((c) => (c.domain === undefined ? [] : [[c.source, c.domain] as const])));
  const graph = lineageGraph(dag, sources, { sourceDomains, ...(models ? { models } : {}) });
  const format = options.format ?? 'text';
  if (format === 'json') io.stdout.write(`${JSON.stringify(graph)}\n`);
  else if (format === 'mermaid') io.stdout.write(mermaid(graph));
  else io.stdout.write(text(graph));
}

/** Without domains, one `from -> to` per line; with them, a section per domain (of the edge's target) and cross-domain edges marked. */
function text(graph: LineageGraph): string {
  const domains = new Map(graph.nodes.flatMap((n) => (n.domain === undefined ? [] : [[n.id, n.domain] as const])));
  if (domains.size === 0) return graph.edges.map((e) => `${e.from} -> ${e.to}\n`).join('');
  const line = (e: LineageEdge): string =>
    e.crossDomain ? `  ${e.from} (${domains.get(e.from)}) -> ${e.to} (${domains.get(e.to)})  [cross-domain]` : `  ${e.from} -> ${e.to}`;
  const lines: string[] = [];
  for (const domain of sectionOrder(graph, domains)) {
    const edges = graph.edges.filter((e) => domains.get(e.to) === domain);
    if (edges.length === 0) continue;
    lines.push(domain === undefined ? 'no domain:' : `domain ${domain}:`, ...edges.map(line));
  }
  return `${lines.join('\n')}\n`;
}

/** Mermaid `graph LR`; with domains, a subgraph per domain and cross-domain edges dashed. */
function mermaid(graph: LineageGraph): string {
  const id = (name: string): string => name.replace(/[^A-Za-z0-9_]/g, '_');
  const shape = (n: { id: string; kind: string }): string => (n.kind === 'source' ? `${id(n.id)}(["${n.id}"])` : `${id(n.id)}["${n.id}"]`);
  const domains = new Map(graph.nodes.flatMap((n) => (n.domain === undefined ? [] : [[n.id, n.domain] as const])));
  const lines = ['graph LR'];
  for (const domain of domains.size ? sectionOrder(graph, domains) : [undefined]) {
    const nodes = graph.nodes.filter((n) => n.domain === domain);
    if (domain === undefined) lines.push(...nodes.map((n) => `  ${shape(n)}`));
    else lines.push(`  subgraph ${id(`domain_${domain}`)}["${domain}"]`, ...nodes.map((n) => `    ${shape(n)}`), '  end');
  }
  for (const edge of graph.edges) lines.push(`  ${id(edge.from)} ${edge.crossDomain ? '-.->' : '-->'} ${id(edge.to)}`);
  return `${lines.join('\n')}\n`;
}

/** The domains sorted by name, nodes without a domain last. */
function sectionOrder(graph: LineageGraph, domains: ReadonlyMap<string, string>): (string | undefined)[] {
  const names = [...new Set(domains.values())].sort();
  return graph.nodes.some((n) => n.domain === undefined) ? [...names, undefined] : names;
}
