import type { Contract } from '../../contracts/index.js';
import { DEFAULT_COLLECTOR_BATCH } from '../../ingest/index.js';
import type { Model } from '../../models/index.js';

/** `ok`: configured; `missing`: not configured and worth doing; `default`: the engine's default applies. */
export type ChecklistState = 'ok' | 'missing' | 'default';

/** One line of a contract's checklist. */
export interface ChecklistItem {
  /** `owner`, `runbook`, `schema`, `key`, `event_time`, `drift`, `lateness`, `freshness`, `completeness`, `batch`, `quarantine`. */
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
        runbookItem(c.runbook, `add runbook: 'https://…' (or a line saying what to do) to the contract: alerts about ${c.source} carry it`),
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
        c.completeness === undefined
          ? { item: 'completeness', label: 'completeness SLO', state: 'missing', detail: `none: serve cannot alert when ${c.source}'s records stop landing; add completeness: { minLandedRatio: 0.99 } to the contract` }
          : { item: 'completeness', label: 'completeness SLO', state: 'ok', detail: `at least ${Math.round(c.completeness.minLandedRatio * 1000) / 10}% of the records received in ${c.completeness.window} land` },
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

function runbookItem(runbook: string | undefined, hint: string): ChecklistItem {
  return runbook === undefined ? { item: 'runbook', label: 'runbook', state: 'missing', detail: `none: ${hint}` } : { item: 'runbook', label: 'runbook', state: 'ok', detail: runbook };
}

/** One model's checklist: who answers for its table and what it promises. */
export interface ModelChecklist {
  readonly model: string;
  readonly file: string | null;
  readonly items: readonly ChecklistItem[];
  /** How many items are `missing`. */
  readonly missing: number;
}

/**
 * Per model, what an operator needs when its table alerts, and what is missing: the
 * owner, the runbook, the freshness SLO and the completeness SLO (the last only for
 * models that declare `lateness`, since only they defer late rows to reconcile).
 *
 * @example
 * modelChecklist(dag.models)[0].items.find((i) => i.item === 'owner')
 * // { item: 'owner', label: 'owner', state: 'missing', detail: 'none: add owner: <team> to the header of sql/silver/orders.sql; alerts about silver.orders name them' }
 */
export function modelChecklist(models: readonly Model[]): ModelChecklist[] {
  return [...models]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => {
      const h = m.header;
      const completeness = h.completeness;
      const items: ChecklistItem[] = [
        h.owner === undefined
          ? { item: 'owner', label: 'owner', state: 'missing', detail: `none: add owner: <team> to the model header; alerts about ${m.name} name them` }
          : { item: 'owner', label: 'owner', state: 'ok', detail: h.owner },
        runbookItem(h.runbook, `add runbook: https://… (or a line saying what to do) to the model header: alerts about ${m.name} carry it`),
        h.freshness === undefined
          ? { item: 'freshness', label: 'freshness SLO', state: 'missing', detail: `none: serve cannot alert when ${m.name} stops committing; add freshness: 15m to the header` }
          : { item: 'freshness', label: 'freshness SLO', state: 'ok', detail: `a commit at least every ${h.freshness}` },
        completeness !== undefined
          ? {
              item: 'completeness',
              label: 'completeness SLO',
              state: 'ok',
              detail: [completeness.maxPendingLateRows === undefined ? '' : `at most ${completeness.maxPendingLateRows} late rows pending`, completeness.exactAfter === undefined ? '' : `exact after ${completeness.exactAfter}`].filter(Boolean).join(', '),
            }
          : h.lateness === undefined
            ? { item: 'completeness', label: 'completeness SLO', state: 'default', detail: 'no lateness bound: every late row is applied by the streaming path' }
            : { item: 'completeness', label: 'completeness SLO', state: 'missing', detail: `none: late rows wait for reconcile (lateness ${h.lateness}) with no alert; add completeness: { max_pending_late_rows: 0, exact_after: 2d }` },
      ];
      return { model: m.name, file: m.file, items, missing: items.filter((i) => i.state === 'missing').length };
    });
}
