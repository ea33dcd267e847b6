/** A model table whose partition status was last computed for an older version than the table is at now. */
export interface PartitionsBehind {
  readonly table: string;
  /** The version the cached status was computed for. */
  readonly computedFor: number;
  /** The table's version now (as the console's tables snapshot read it). */
  readonly current: number;
}

/**
 * The model tables whose cached partition status lags their table: the status is computed in
 * the background (after serve's own commits; never for a request), so in the first seconds
 * after a start, or after another process committed, the last result describes an older
 * version. The console shows such a table as computing, not its old counts as if current.
 *
 * @example
 * partitionsBehind([{ table: 'gold.daily', version: 1 }], { tables: [{ name: 'gold.daily', version: 3 }] });
 * // [{ table: 'gold.daily', computedFor: 1, current: 3 }]
 */
export function partitionsBehind(computed: readonly { readonly table: string; readonly version: number }[], lake: unknown): PartitionsBehind[] {
  const versions = new Map(tablesOf(lake).map((t) => [t.name, t.version]));
  return computed.flatMap(({ table, version }) => {
    const current = versions.get(table);
    return current !== undefined && current > version ? [{ table, computedFor: version, current }] : [];
  });
}

/** The tables of `lakeStatus`'s answer (anything else: none). */
function tablesOf(lake: unknown): readonly { readonly name: string; readonly version: number }[] {
  const tables = (lake as { tables?: unknown } | null | undefined)?.tables;
  return Array.isArray(tables) ? tables.filter((t): t is { name: string; version: number } => typeof t?.name === 'string' && typeof t?.version === 'number') : [];
}
