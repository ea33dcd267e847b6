import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { PROJECT_ROOT } from './child.js';

/** Where the OpenLineage JSON Schema files are: `LAKELOOP_OPENLINEAGE_SPEC`, else `../shared/openlineage/` beside the repository. */
export const OPENLINEAGE_SPEC_DIR = process.env['LAKELOOP_OPENLINEAGE_SPEC'] ?? join(PROJECT_ROOT, '..', 'shared', 'openlineage');

/** Whether the spec is there (the schema tests skip, saying why, where it is not). */
export const HAS_OPENLINEAGE_SPEC = existsSync(join(OPENLINEAGE_SPEC_DIR, 'OpenLineage.json'));

/** The spec's schemas registered by `$id` (never copied into the repository), read where the tests run. */
export function openLineageAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema(JSON.parse(readFileSync(join(OPENLINEAGE_SPEC_DIR, 'OpenLineage.json'), 'utf8')) as object);
  for (const name of readdirSync(join(OPENLINEAGE_SPEC_DIR, 'facets')).filter((f) => f.endsWith('.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(OPENLINEAGE_SPEC_DIR, 'facets', name), 'utf8')) as object);
  }
  return ajv;
}

type Facets = Record<string, { _schemaURL?: unknown }>;

/**
 * The problems of one event: against the RunEvent schema, and each facet against the
 * schema its `_schemaURL` names. Empty when it is valid; returns how many facets were checked.
 */
export function openLineageProblems(ajv: Ajv2020, event: unknown): { problems: string[]; facets: number } {
  const problems: string[] = [];
  const validateEvent = ajv.getSchema('https://openlineage.io/spec/2-0-2/OpenLineage.json') as ValidateFunction;
  if (!validateEvent(event)) problems.push(`event: ${ajv.errorsText(validateEvent.errors)}`);
  const e = event as { run?: { facets?: Facets }; job?: { facets?: Facets }; inputs?: { facets?: Facets; inputFacets?: Facets }[]; outputs?: { facets?: Facets; outputFacets?: Facets }[] };
  const groups: Facets[] = [e.run?.facets ?? {}, e.job?.facets ?? {}];
  for (const d of e.inputs ?? []) groups.push(d.facets ?? {}, d.inputFacets ?? {});
  for (const d of e.outputs ?? []) groups.push(d.facets ?? {}, d.outputFacets ?? {});
  let facets = 0;
  for (const group of groups) {
    for (const [name, facet] of Object.entries(group)) {
      facets += 1;
      const validate = ajv.getSchema(String(facet._schemaURL));
      if (!validate) problems.push(`facet ${name}: no schema ${String(facet._schemaURL)}`);
      else if (!validate(facet)) problems.push(`facet ${name}: ${ajv.errorsText(validate.errors)}`);
    }
  }
  return { problems, facets };
}
