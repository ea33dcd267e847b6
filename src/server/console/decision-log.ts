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

/** One batch that landed and no model run has read yet (its requests summed). */
interface PendingBatch {
  readonly source: string;
  readonly batchId: string | null;
  readonly version: number | null;
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
 * did with the batches that had landed ("sales batch v7: 40 landed, 2 quarantined →
 * silver.sales rewrote partition 2026-03-01 (40 rows) → gold.daily rewrote partition
 * 2026-03-01 (3 rows)"; batch numbers are bronze versions), runs with nothing to do, failures, and the operator's pause and resume.
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
  private pending: PendingBatch[] = [];
  /** Bronze table → the newest version a run read. */
  private readonly read = new Map<string, number>();
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
    return landingTexts(this.pending);
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
    const key = (b: PendingBatch): boolean => b.source === outcome.source && b.batchId !== null && b.batchId === outcome.batchId;
    const batch: PendingBatch = this.pending.find(key) ?? { source: outcome.source, batchId: outcome.batchId, version: outcome.bronzeVersion, landed: 0, quarantined: 0 };
    batch.landed += outcome.landed;
    batch.quarantined += outcome.quarantined;
    if (!this.options.foldLandings) {
      this.push('landing', landingTexts([batch])[0] ?? '');
      return;
    }
    if (!this.pending.includes(batch)) this.pending.push(batch);
  }

  /** One streaming run's summaries (one per model): the batches it read, then what each model did. */
  recordRun(summaries: readonly ModelRunSummary[]): Decision {
    const read = new Map<string, number>();
    for (const s of summaries) for (const [table, version] of Object.entries(s.upstream)) if (table.startsWith('bronze.')) read.set(table, Math.max(read.get(table) ?? -1, version));
    // the batches committed at or below the version a run read are the ones it consumed
    const consumed = this.pending.filter((b) => b.version === null || b.version <= (read.get(`bronze.${b.source}`) ?? -1));
    this.pending = this.pending.filter((b) => !consumed.includes(b));
    const inputs = landingTexts(consumed);
    for (const [table, version] of [...read].sort(([a], [b]) => a.localeCompare(b))) {
      // commits that did not come through this collector (a file drop, another process)
      if (version > (this.read.get(table) ?? -1) && !consumed.some((b) => `bronze.${b.source}` === table)) inputs.push(`new commits in ${table} (v${version})`);
      this.read.set(table, Math.max(version, this.read.get(table) ?? -1));
    }
    const ran = summaries.filter((s) => !s.skipped);
    if (ran.length === 0) {
      return this.push('idle', `${inputs.length ? `${inputs.join('; ')}: ` : ''}nothing for the models to do (${summaries.length ? 'every model is up to date' : 'no model was due'})`);
    }
    return this.push('run', [inputs.length ? inputs.join('; ') : 'no new batch (a scheduled rerun)', ...ran.map(modelText)].join(' → '));
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

/** "sales batch v7: 40 landed, 2 quarantined", or "sales 3 batches (v7–v9): …", one per source. */
function landingTexts(batches: readonly PendingBatch[]): string[] {
  const sources = [...new Set(batches.map((b) => b.source))].sort();
  return sources.map((source) => {
    const mine = batches.filter((b) => b.source === source);
    const versions = mine.flatMap((b) => (b.version === null ? [] : [b.version]));
    const low = Math.min(...versions);
    const high = Math.max(...versions);
    const at = versions.length === 0 ? '' : low === high ? ` v${low}` : ` v${low}–v${high}`;
    const what = mine.length === 1 ? `batch${at}` : `${count(mine.length)} batches${at ? ` (${at.trim()})` : ''}`;
    return `${source} ${what}: ${count(mine.reduce((n, b) => n + b.landed, 0))} landed, ${count(mine.reduce((n, b) => n + b.quarantined, 0))} quarantined`;
  });
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
