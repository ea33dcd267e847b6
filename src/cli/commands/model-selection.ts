import { UsageError } from '../../core/index.js';
import { parseSelector, resolveSelectors, type Model, type ModelDag, type UnknownSelector } from '../../models/index.js';

/** The selector grammar, for hints and `--help`. */
export const SELECTOR_GRAMMAR = 'name, layer.* (e.g. silver.*), name+ (and downstream), +name (and upstream), +name+, owner:NAME, domain:NAME';

/**
 * The models `select` (default: all) minus `exclude` pick, in DAG order (see
 * `resolveSelectors`). A selector that matches nothing, or selectors that leave nothing, are
 * a `UsageError` (exit 2) with "did you mean" suggestions. `extraNames` are names accepted
 * though no model defines them (plan's removed tables); they come back in `names`.
 */
export function selectModelsOrFail(
  dag: ModelDag,
  select: readonly string[],
  exclude: readonly string[] = [],
  extraNames: ReadonlySet<string> = new Set(),
): { models: Model[]; names: string[] } {
  const { models, unknown } = resolveSelectors(dag, select, exclude);
  const extra = unknown.filter((u) => extraNames.has(u.selector));
  const wrong = unknown.filter((u) => !extraNames.has(u.selector));
  if (wrong.length) {
    const known = dag.models.map((m) => m.name);
    throw new UsageError(wrong.map(describeUnknown).join('; '), known.length ? `Models: ${known.join(', ')}. Selectors: ${SELECTOR_GRAMMAR}.` : 'Add sql/<layer>/<name>.sql files.');
  }
  const names = [...models.map((m) => m.name), ...extra.map((u) => u.selector)];
  if ((select.length || exclude.length) && names.length === 0) {
    const what = [...select, ...exclude.map((e) => `--exclude ${e}`)].join(' ');
    throw new UsageError(`No models selected: ${what || 'every model'} leaves none`, 'Check the selectors and --exclude.');
  }
  return { models: [...models], names };
}

function describeUnknown(u: UnknownSelector): string {
  const selector = parseSelector(u.selector);
  const head = !selector ? `Invalid selector ${JSON.stringify(u.selector)}` : selector.method === 'name' ? `Unknown model ${u.selector}` : `No model matches ${u.selector}`;
  return u.suggestions.length ? `${head}: did you mean ${u.suggestions.join(' or ')}?` : head;
}
