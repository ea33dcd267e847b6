import type { Contract } from '../../contracts/index.js';
import { DEFAULT_COLLECTOR_BATCH } from '../../ingest/index.js';
import type { Model } from '../../models/index.js';

/** `ok`: configured; `missing`: not configured and worth doing; `default`: the engine's default applies. */
export type ChecklistState = 'ok' | 'missing' | 'default';

/** One line of a contract's checklist. */
export interface ChecklistItem {
  /** `owner`, `version`, `schema`, `key`, `event_time`, `drift`, `lateness`, `freshness`, `batch`, `quarantine`. */
  readonly item: string;
  readonly label: string;
  readonly state: ChecklistState;
  /** What is configured (`order_id`, `5m`, `2h (silver.orders)`), or what is missing and what to do. */
  readonly detail: string;
}

/** One source contract's checklist. */
export interface ContractChecklist {
  readonly source: string;
  /** The contract file (relative to nothing: as loaded), if known. */
  readonly file: string | null;
  readonly items: readonly ChecklistItem[];
  /** How many items are `missing`. */
  readonly missing: number;
}

/** The live counts the quarantine line needs, from `lakeStatus().sources`. */
export interface SourceCounts {
  readonly source: string;
  readonly landed: number;
  readonly quarantined: number;
}

/**
 * Per source contract, what is configured and what is missing: schema and columns, unique
 * key, event time, drift policy, the lateness bound (declared by the models reading its
 * bronze table), the freshness SLO, the batch limits, and the quarantine count so far.
 *
 * @example
 * contractChecklist([salesContract], dag.models, [{ source: 'sales', landed: 80, quarantined: 2 }])[0].items.find((i) => i.item === 'freshness')
 * // { item: 'freshness', label: 'freshness SLO', state: 'missing', detail: 'none: serve cannot alert when sales stops landing; add freshness: "5m" to the contract' }
 */
export function contractChecklist(contracts: readonly Contract[], models: readonly Model[], counts: readonly SourceCounts[] = []): ContractChecklist[] {
  return [...contracts]
    .sort((a, b) => a.source.localeCompare(b.source))
    .map((c) => {
      const bronze = `bronze.${c.source}`;
      const readers = models.filter((m) => m.upstream.includes(bronze));
      const bounded = readers.filter((m) => m.header.lateness !== undefined);
      const required = c.columns.filter((col) => col.required).length;
      const batch = Object.entries(c.batch).filter(([, v]) => v !== undefined);
      const count = counts.find((s) => s.source === c.source);
      const items: ChecklistItem[] = [
        { item: 'owner', label: 'owner', state: 'ok', detail: `${c.owner} (contract version ${c.version})` },
        {
          item: 'schema',
          label: 'schema / columns',
          state: c.columns.length ? 'ok' : 'missing',
          detail: `${c.columns.length} columns, ${required} required: ${c.columns.map((col) => `${col.name} ${col.duckdbType}${col.required ? '' : '?'}`).join(', ')}`,
        },
        { item: 'key', label: 'unique key', state: c.key.length ? 'ok' : 'missing', detail: c.key.join(', ') || 'none' },
        { item: 'event_time', label: 'event time', state: 'ok', detail: `${c.eventTime} (bronze partitions by its UTC day)` },
        { item: 'drift', label: 'drift policy', state: 'ok', detail: c.drift },
        readers.length === 0
          ? { item: 'lateness', label: 'lateness bound', state: 'default', detail: `no model reads ${bronze}` }
          : bounded.length === 0
            ? { item: 'lateness', label: 'lateness bound', state: 'missing', detail: `none of ${readers.map((m) => m.name).join(', ')} declares lateness: every late row is applied on the streaming path, however old` }
            : {
                item: 'lateness',
                label: 'lateness bound',
                state: bounded.length === readers.length ? 'ok' : 'missing',
                detail: readers.map((m) => `${m.name}: ${m.header.lateness ?? 'none'}`).join(', '),
              },
        c.freshness === undefined
          ? { item: 'freshness', label: 'freshness SLO', state: 'missing', detail: `none: serve cannot alert when ${c.source} stops landing; add freshness: "5m" to the contract` }
          : { item: 'freshness', label: 'freshness SLO', state: 'ok', detail: `a batch at least every ${c.freshness}` },
        batch.length
          ? { item: 'batch', label: 'batch limits', state: 'ok', detail: batch.map(([k, v]) => `${k} ${String(v)}`).join(', ') }
          : { item: 'batch', label: 'batch limits', state: 'default', detail: `the collector's defaults (maxRecords ${DEFAULT_COLLECTOR_BATCH.maxRecords}, maxBytes ${DEFAULT_COLLECTOR_BATCH.maxBytes}, maxMs ${DEFAULT_COLLECTOR_BATCH.maxMs})` },
        count
          ? { item: 'quarantine', label: 'quarantined', state: 'ok', detail: `${count.quarantined} of ${count.landed + count.quarantined} records${count.landed + count.quarantined ? ` (${((100 * count.quarantined) / (count.landed + count.quarantined)).toFixed(1)}%)` : ''}` }
          : { item: 'quarantine', label: 'quarantined', state: 'ok', detail: 'nothing landed yet' },
      ];
      return { source: c.source, file: c.file ?? null, items, missing: items.filter((i) => i.state === 'missing').length };
    });
}
