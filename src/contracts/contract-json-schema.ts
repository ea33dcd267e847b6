import { inputJsonSchema } from './contract-columns.js';
import type { Contract } from './define-contract.js';

/** The `x-lakeloop` block of an exported schema: what the engine does with a record beyond its shape. */
export interface ContractSchemaMetadata {
  readonly source: string;
  readonly version: number;
  readonly owner: string;
  readonly key: readonly string[];
  readonly eventTime: string;
  readonly drift: Contract['drift'];
  /** Records are Debezium change events whose `before`/`after` images follow this schema. */
  readonly cdc: boolean;
  /** What to do when the source alerts, when given. */
  readonly runbook?: string;
  /** The SLOs producers are held to, when given: freshness (a duration), completeness (landed vs received). */
  readonly freshness?: string;
  readonly completeness?: { readonly minLandedRatio: number; readonly window: string };
}

/**
 * A contract as JSON Schema (draft 2020-12) for producers in other languages: zod's own
 * export of what a producer sends (`io: 'input'`: defaulted fields are optional), titled
 * by the source, with `additionalProperties: false` only under drift policy `strict`
 * (the others accept new fields), and the contract's metadata under `x-lakeloop`.
 *
 * @example
 * contractJsonSchema(orders)['x-lakeloop']; // { source: 'orders', version: 3, key: ['order_id'], eventTime: 'order_ts', ... }
 */
export function contractJsonSchema(contract: Contract): Record<string, unknown> {
  const { $schema, additionalProperties: _zodsChoice, ...schema } = inputJsonSchema(contract.schema);
  const metadata: ContractSchemaMetadata = {
    source: contract.source,
    version: contract.version,
    owner: contract.owner,
    key: contract.key,
    eventTime: contract.eventTime,
    drift: contract.drift,
    cdc: contract.cdc,
    ...(contract.runbook === undefined ? {} : { runbook: contract.runbook }),
    ...(contract.freshness === undefined ? {} : { freshness: contract.freshness }),
    ...(contract.completeness === undefined ? {} : { completeness: { minLandedRatio: contract.completeness.minLandedRatio, window: contract.completeness.window } }),
  };
  return {
    $schema: $schema ?? 'https://json-schema.org/draft/2020-12/schema',
    $id: `lakeloop:contract:${contract.source}:v${contract.version}`,
    title: contract.source,
    ...(contract.description === undefined ? {} : { description: contract.description }),
    ...schema,
    ...(contract.drift === 'strict' ? { additionalProperties: false } : {}),
    'x-lakeloop': metadata,
  };
}
