import type { RequestOutcome } from '../../ingest/index.js';
import type { ModelRunSummary } from '../../runner/index.js';

/** What a decision was about. */
export type DecisionKind = 'run' | 'idle' | 'landing' | 'failure' | 'control';

/** One thing the engine decided (or was told), in a sentence a person understands. */
export interface Decision {
  /** Increasing from 1 in this process. */
  readonly id: number;
  readonly at: string;
  readonly kind: DecisionKind;
  /** `auto`: the loop decided on its own; `step`: an operator's step; `operator`: a pause or resume. */
  readonly trigger: 'auto' | 'step' | 'operator';
  readonly text: string;
}

/** Batches of one source that landed and no model run has read yet. */
interface PendingLanding {
  batches: Set<string>;
  firstVersion: number | null;
  lastVersion: number | null;
  landed: number;
  quarantined: number;
}

export interface DecisionLogOptions {
  /** Decisions kept (default 100). */
  readonly keep?: number;
  /**
   * Whether model runs follow landings (a streaming loop runs): landed batches are then told
   * in the decision of the run that reads them; without, each batch is a decision of its own.
   */
  readonly foldLandings?: boolean;
  readonly nowMs?: () => number;
}

/**
 * The console's log of the engine's decisions (the last 100): what each streaming run
 * did with the batches that had landed ("sales: 1 batch (bronze v7), 40 landed, 2
 * quarantined → silver.sales wrote 40 rows to 2026-03-01 → gold.daily rewrote 1
 * partition"), runs with nothing to do, failures, and the operator's pause and resume.
 * Fed by the collector's `onLanding` and the streaming loop's `onRun` and `onError`.
 *
 * @example
 * const decisions = new DecisionLog({ foldLandings: true });
 * decisions.subscribe((d) => console.log(d.text));
 * decisions.recordLanding(outcome);
 * decisions.recordRun(summaries);
 */
export class DecisionLog {
  private readonly entries: Decision[] = [];
  private readonly pending = new Map<string, PendingLanding>();
  private readonly listeners = new Set<(decision: Decision) => void>();
  private nextId = 1;
  private trigger: 'auto' | 'step' = 'auto';
  private readonly keep: number;

  constructor(private readonly options: DecisionLogOptions = {}) {
    this.keep = options.keep ?? 100;
  }

  /** The kept decisions, oldest first. */
  list(): readonly Decision[] {
    return [...this.entries];
  }

  get last(): Decision | null {
    return this.entries[this.entries.length - 1] ?? null;
  }

  /** What landed that no run has read yet, one line per source (empty when nothing waits). */
  waiting(): string[] {
    return [...this.pending.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([source, p]) => landingText(source, p));
  }

  /** Calls `listener` with each new decision; returns the unsubscribe function. */
  subscribe(listener: (decision: Decision) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `fn` with the decisions it makes marked as an operator's step. */
  async asStep<T>(fn: () => Promise<T>): Promise<T> {
    this.trigger = 'step';
    try {
      return await fn();
    } finally {
      this.trigger = 'auto';
    }
  }

  /** One answered collector request whose records committed. */
  recordLanding(outcome: RequestOutcome): void {
    const p = this.pending.get(outcome.source) ?? { batches: new Set<string>(), firstVersion: null, lastVersion: null, landed: 0, quarantined: 0 };
    if (outcome.batchId !== null) p.batches.add(outcome.batchId);
    if (outcome.bronzeVersion !== null) {
      p.firstVersion = p.firstVersion === null ? outcome.bronzeVersion : Math.min(p.firstVersion, outcome.bronzeVersion);
      p.lastVersion = p.lastVersion === null ? outcome.bronzeVersion : Math.max(p.lastVersion, outcome.bronzeVersion);
    }
    p.landed += outcome.landed;
    p.quarantined += outcome.quarantined;
    if (this.options.foldLandings) {
      this.pending.set(outcome.source, p);
      return;
    }
    this.push('landing', landingText(outcome.source, p));
  }

  /** One streaming run's summaries (one per model). */
  recordRun(summaries: readonly ModelRunSummary[]): Decision {
    const read = new Map<string, number>();
    for (const s of summaries) for (const [table, version] of Object.entries(s.upstream)) if (table.startsWith('bronze.')) read.set(table, Math.max(read.get(table) ?? -1, version));
    const inputs: string[] = [];
    for (const [table, version] of [...read].sort(([a], [b]) => a.localeCompare(b))) {
      const source = table.slice('bronze.'.length);
      const p = this.pending.get(source);
      // batches committed at or below the version the run read are the ones it consumed
      if (p && (p.lastVersion === null || p.lastVersion <= version)) {
        inputs.push(landingText(source, p));
        this.pending.delete(source);
      } else if (!p) inputs.push(`${table} v${version}`);
      else inputs.push(`${landingText(source, p)} (the run read up to v${version})`);
    }
    const ran = summaries.filter((s) => !s.skipped);
    if (ran.length === 0) {
      return this.push('idle', `${inputs.length ? `${inputs.join('; ')}: ` : ''}nothing for the models to do (${summaries.length ? 'every model is up to date' : 'no model was due'})`);
    }
    const steps = ran.map(modelText);
    return this.push('run', [inputs.length ? inputs.join('; ') : 'scheduled run', ...steps].join(' → '));
  }

  /** A cycle that ran nothing (a step over a quiet bronze, say). */
  recordIdle(reason: string): Decision {
    return this.push('idle', `no model ran: ${reason}`);
  }

  /** A failed run (the loop retries it with backoff). */
  recordFailure(error: unknown): Decision {
    const model = (error as { model?: unknown }).model;
    const message = error instanceof Error ? error.message : String(error);
    return this.push('failure', `${typeof model === 'string' ? `${model} failed` : 'the run failed'}: ${firstLine(message)}; it is retried with backoff, models reading it wait`);
  }

  /** The operator paused or resumed the streaming path. */
  recordControl(text: string): Decision {
    return this.push('control', text, 'operator');
  }

  private push(kind: DecisionKind, text: string, trigger: Decision['trigger'] = this.trigger): Decision {
    const decision: Decision = { id: this.nextId++, at: new Date(this.options.nowMs?.() ?? Date.now()).toISOString(), kind, trigger, text };
    this.entries.push(decision);
    if (this.entries.length > this.keep) this.entries.splice(0, this.entries.length - this.keep);
    for (const listener of this.listeners) listener(decision);
    return decision;
  }
}

function landingText(source: string, p: PendingLanding): string {
  const versions = p.firstVersion === null ? '' : p.firstVersion === p.lastVersion ? ` (bronze v${p.firstVersion})` : ` (bronze v${p.firstVersion}–v${p.lastVersion})`;
  const batches = p.batches.size === 1 ? '1 batch' : `${count(p.batches.size)} batches`;
  return `${source}: ${batches}${versions}, ${count(p.landed)} landed, ${count(p.quarantined)} quarantined`;
}

/** "silver.sales wrote 40 rows to 2026-03-01; 4 rows for 2026-02-27 behind the horizon, deferred to reconcile". */
function modelText(s: ModelRunSummary): string {
  const rows = `${count(s.rowsOut)} ${s.rowsOut === 1 ? 'row' : 'rows'}`;
  let text: string;
  if (s.partitions === 'all') text = `${s.model} rebuilt the whole table (${rows})`;
  else if (s.partitions.length === 0) text = `${s.model} wrote ${rows}`;
  else text = `${s.model} rewrote ${partitionsText(s.partitions)} (${rows})`;
  const deferred = Object.entries(s.deferred).filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b));
  if (deferred.length) {
    const parts = deferred.length <= 3 ? deferred.map(([p, n]) => `${count(n)} ${n === 1 ? 'row' : 'rows'} for ${p}`).join(', ') : `${count(deferred.reduce((a, [, n]) => a + n, 0))} rows for ${deferred.length} partitions`;
    text += `; ${parts} behind the horizon, deferred to reconcile`;
  }
  return text;
}

function partitionsText(partitions: readonly string[]): string {
  const sorted = [...partitions].sort();
  if (sorted.length <= 3) return `${sorted.length === 1 ? 'partition' : 'partitions'} ${sorted.join(', ')}`;
  return `${sorted.length} partitions (${sorted[0]} … ${sorted[sorted.length - 1]})`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
