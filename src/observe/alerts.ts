import { formatSize } from '../config/index.js';
import { backoffDelayMs, type RetryPolicy } from '../core/index.js';
import type { SourceCompletenessEvaluation } from './source-completeness.js';

/** One webhook that receives alerts: a JSON body, or Slack's incoming-webhook body (`{ text }`). */
export interface AlertWebhook {
  readonly url: string;
  readonly format: 'json' | 'slack';
  /** A firing alert is sent again after this many minutes while it lasts; default 60. */
  readonly repeatMinutes?: number;
}

/** What can raise an alert. */
export type AlertKind = 'freshness' | 'completeness' | 'run_failed' | 'job_failed' | 'quarantine_rate' | 'budget' | 'held_partitions' | 'divergence';

/** One condition as evaluated now: firing or not, keyed so that repeats and recoveries pair up. */
export interface AlertCondition {
  /** e.g. `freshness:source:sales`; the de-duplication key. */
  readonly key: string;
  readonly kind: AlertKind;
  /** The source, model or job it is about. */
  readonly subject: string;
  readonly firing: boolean;
  /** One sentence, for people. */
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Who answers for the subject (its contract's or model header's `owner`), when known. */
  readonly owner?: string;
  /** What to do (its contract's or model header's `runbook`), when given. */
  readonly runbook?: string;
}

/** An alert as a webhook receives it (`format: 'json'`). */
export interface AlertMessage {
  readonly status: 'firing' | 'resolved';
  readonly key: string;
  readonly kind: AlertKind;
  readonly subject: string;
  readonly message: string;
  readonly at: string;
  /** The subject's owner, so the person paged knows whose it is. */
  readonly owner?: string;
  /** The subject's runbook (a URL or a line of text), so the person paged knows what to do. */
  readonly runbook?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AlertManagerOptions {
  readonly webhooks: readonly AlertWebhook[];
  /** Applied to every body sent (credentials never leave the process). */
  readonly redact?: (text: string) => string;
  /** A webhook that keeps failing; the alert is not raised again until its repeat interval. */
  readonly onWarning?: (message: string) => void;
  /** Each alert sent (or attempted), for the log. */
  readonly onAlert?: (alert: AlertMessage) => void;
  readonly policy?: RetryPolicy;
  readonly nowMs?: () => number;
}

const ALERT_RETRY: RetryPolicy = Object.freeze({ attempts: 3, baseDelayMs: 250, maxDelayMs: 2_000 });

/**
 * Sends alert transitions to webhooks: a condition that starts firing is sent at once, and
 * again every `repeatMinutes` while it fires (never sooner: de-duplication by key); one
 * that stops firing sends a `resolved`. Deliveries retry with backoff in the background;
 * `update` never throws and never waits.
 *
 * @example
 * const alerts = new AlertManager({ webhooks: [{ url, format: 'slack' }] });
 * alerts.update([{ key: 'freshness:source:sales', kind: 'freshness', subject: 'sales', firing: true, message: 'no data for 5 min' }]);
 */
export class AlertManager {
  /** Key → when it was last sent to each webhook (index), while it fires. */
  private readonly active = new Map<string, number[]>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: AlertManagerOptions) {}

  /** The keys firing now. */
  firing(): string[] {
    return [...this.active.keys()];
  }

  /** Applies the conditions evaluated now (those not listed keep their state). */
  update(conditions: readonly AlertCondition[]): void {
    const now = this.options.nowMs?.() ?? Date.now();
    for (const condition of conditions) {
      const sent = this.active.get(condition.key);
      if (condition.firing) {
        const times = sent ?? this.options.webhooks.map(() => -Infinity);
        this.options.webhooks.forEach((hook, i) => {
          if (now - (times[i] ?? -Infinity) < (hook.repeatMinutes ?? 60) * 60_000) return;
          times[i] = now;
          this.deliver(hook, message(condition, 'firing', now));
        });
        this.active.set(condition.key, times);
      } else if (sent) {
        this.active.delete(condition.key);
        for (const hook of this.options.webhooks) this.deliver(hook, message(condition, 'resolved', now));
      }
    }
  }

  /** Waits (at most `timeoutMs`) for deliveries in flight. */
  async close(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.pending]), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  private deliver(hook: AlertWebhook, alert: AlertMessage): void {
    this.options.onAlert?.(alert);
    const raw = hook.format === 'slack' ? JSON.stringify({ text: slackText(alert) }) : JSON.stringify(alert);
    const body = this.options.redact ? this.options.redact(raw) : raw;
    const done = this.post(hook.url, body);
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  private async post(url: string, body: string): Promise<void> {
    const policy = this.options.policy ?? ALERT_RETRY;
    let last = '';
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      try {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5_000) });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (attempt < policy.attempts) await new Promise((resolve) => setTimeout(resolve, Math.max(50, backoffDelayMs(policy, attempt))));
    }
    const text = `Failed to send an alert to ${redactUrl(url)}: ${last}`;
    this.options.onWarning?.(this.options.redact ? this.options.redact(text) : text);
  }
}

function message(condition: AlertCondition, status: 'firing' | 'resolved', nowMs: number): AlertMessage {
  return {
    status,
    key: condition.key,
    kind: condition.kind,
    subject: condition.subject,
    message: condition.message,
    at: new Date(nowMs).toISOString(),
    ...(condition.owner !== undefined ? { owner: condition.owner } : {}),
    ...(condition.runbook !== undefined ? { runbook: condition.runbook } : {}),
    ...(condition.details ? { details: condition.details } : {}),
  };
}

function slackText(alert: AlertMessage): string {
  const head = `${alert.status === 'firing' ? ':rotating_light: FIRING' : ':white_check_mark: RESOLVED'} lakeloop ${alert.kind} ${alert.subject}: ${alert.message}`;
  const who = [alert.owner !== undefined ? `owner: ${alert.owner}` : '', alert.runbook !== undefined ? `runbook: ${alert.runbook}` : ''].filter(Boolean).join(' · ');
  return who ? `${head}\n${who}` : head;
}

/** Webhook URLs often carry a token in their path or query: a warning names the host only. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(webhook)';
  }
}

/** What `evaluateAlerts` reads: the SLOs, and what serve has seen. */
export interface AlertInputs {
  readonly nowMs: number;
  /** Since when serve has been watching (an SLO of something never seen is measured from here). */
  readonly sinceMs: number;
  /** Freshness SLOs: a source (no batch landed) or a model (no run committed) for longer than `maxAgeMs` breaches. */
  readonly freshness: readonly { readonly kind: 'source' | 'model'; readonly name: string; readonly maxAgeMs: number; readonly lastMs: number | undefined }[];
  /** Model → the error of its last run, while it fails (absent once it succeeds). */
  readonly failedModels: ReadonlyMap<string, string>;
  /** Job → the error of its last run, while it fails. */
  readonly failedJobs: ReadonlyMap<string, string>;
  /** Per source, records quarantined and landed over the recent window. */
  readonly quarantine: readonly { readonly source: string; readonly quarantined: number; readonly landed: number }[];
  /** The share of quarantined records that is a spike; default 0.5. */
  readonly quarantineRate?: number;
  /** Fewer quarantined records than this are never a spike; default 10. */
  readonly minQuarantined?: number;
  /**
   * The last scan-budget check of each subject that has one (`streaming`, `job:<name>`):
   * over the budget (refused or warned) fires until a check fits again.
   */
  readonly budgets?: readonly { readonly subject: string; readonly over: boolean; readonly mode: 'warn' | 'refuse'; readonly message: string; readonly estimatedBytes: number; readonly budgetBytes: number }[];
  /** Every model table with the partitions the last reconcile held (failing blocking tests); empty: none held. */
  readonly held?: readonly { readonly table: string; readonly partitions: readonly string[] }[];
  /** The rates of ingest, landing and transform drifting apart (the metrics' backlog), when evaluated. */
  readonly divergence?: { readonly active: boolean; readonly reasons: readonly string[] } | undefined;
  /** Each model's completeness SLO as last evaluated (see `state/evaluateCompleteness`). */
  readonly completeness?: readonly { readonly model: string; readonly met: boolean; readonly message: string; readonly pendingLateRows: number; readonly notExact: readonly string[]; readonly exactShare: number }[];
  /** Each source's landed-vs-received completeness SLO over its window (`evaluateSourceCompleteness`). */
  readonly sourceCompleteness?: readonly SourceCompletenessEvaluation[];
  /**
   * Owner and runbook by subject: a source's name (its contract) or a model's table name
   * (its header); every condition about that subject carries them.
   */
  readonly owners?: ReadonlyMap<string, { readonly owner?: string | undefined; readonly runbook?: string | undefined }>;
}

/**
 * The alert conditions now, from serve's SLOs and state: freshness and completeness per
 * source and model, failing model runs and jobs, quarantine-rate spikes, scan-budget
 * breaches, held partitions and rate divergence. Every known subject yields a
 * condition (firing or not), so recoveries are seen.
 *
 * @example
 * alerts.update(evaluateAlerts({ nowMs: Date.now(), sinceMs, freshness, failedModels, failedJobs, quarantine: [] }));
 */
export function evaluateAlerts(inputs: AlertInputs, known: { models: readonly string[]; jobs: readonly string[] } = { models: [], jobs: [] }): AlertCondition[] {
  const out: AlertCondition[] = [];
  for (const slo of inputs.freshness) {
    const ageMs = inputs.nowMs - (slo.lastMs ?? inputs.sinceMs);
    const what = slo.kind === 'source' ? 'no batch landed' : 'no run committed';
    out.push({
      key: `freshness:${slo.kind}:${slo.name}`,
      kind: 'freshness',
      subject: slo.name,
      firing: ageMs > slo.maxAgeMs,
      message: ageMs > slo.maxAgeMs ? `${what} for ${seconds(ageMs)} (SLO ${seconds(slo.maxAgeMs)})` : `fresh again: last ${seconds(Math.max(0, ageMs))} ago (SLO ${seconds(slo.maxAgeMs)})`,
      details: { [slo.kind]: slo.name, ageSeconds: Math.round(ageMs / 100) / 10, sloSeconds: slo.maxAgeMs / 1000, ...(slo.lastMs !== undefined ? { lastAt: new Date(slo.lastMs).toISOString() } : {}) },
    });
  }
  for (const model of new Set([...known.models, ...inputs.failedModels.keys()])) {
    const error = inputs.failedModels.get(model);
    out.push({ key: `run_failed:${model}`, kind: 'run_failed', subject: model, firing: error !== undefined, message: error !== undefined ? `model run failed: ${error}` : 'model runs again' });
  }
  for (const job of new Set([...known.jobs, ...inputs.failedJobs.keys()])) {
    const error = inputs.failedJobs.get(job);
    out.push({ key: `job_failed:${job}`, kind: 'job_failed', subject: job, firing: error !== undefined, message: error !== undefined ? `job failed: ${error}` : 'job succeeds again' });
  }
  const threshold = inputs.quarantineRate ?? 0.5;
  const minimum = inputs.minQuarantined ?? 10;
  for (const q of inputs.quarantine) {
    const total = q.quarantined + q.landed;
    const rate = total > 0 ? q.quarantined / total : 0;
    const firing = q.quarantined >= minimum && rate > threshold;
    out.push({
      key: `quarantine_rate:${q.source}`,
      kind: 'quarantine_rate',
      subject: q.source,
      firing,
      message: `${Math.round(rate * 100)}% of recent records quarantined (${q.quarantined} of ${total}; threshold ${Math.round(threshold * 100)}%)`,
      details: { source: q.source, quarantined: q.quarantined, landed: q.landed },
    });
  }
  for (const b of inputs.budgets ?? []) {
    out.push({
      key: `budget:${b.subject}`,
      kind: 'budget',
      subject: b.subject,
      firing: b.over,
      message: b.over ? b.message : `within budgets.maxBytesScannedPerRun again (estimated ${formatSize(b.estimatedBytes)} of ${formatSize(b.budgetBytes)})`,
      details: { mode: b.mode, estimatedBytes: b.estimatedBytes, budgetBytes: b.budgetBytes, ...(b.over ? { action: b.mode === 'refuse' ? 'refused' : 'warned' } : {}) },
    });
  }
  for (const h of inputs.held ?? []) {
    const shown = h.partitions.slice(0, 10).join(', ') + (h.partitions.length > 10 ? `, … (${h.partitions.length} in all)` : '');
    out.push({
      key: `held_partitions:${h.table}`,
      kind: 'held_partitions',
      subject: h.table,
      firing: h.partitions.length > 0,
      message: h.partitions.length
        ? `${h.partitions.length} partition(s) of ${h.table} held by failing blocking tests in the last reconcile: ${shown}; fix the data or the test, then lakeloop reconcile`
        : `no partition of ${h.table} held any more`,
      details: { table: h.table, partitions: h.partitions.slice(0, 100) },
    });
  }
  if (inputs.divergence) {
    const d = inputs.divergence;
    out.push({
      key: 'divergence',
      kind: 'divergence',
      subject: 'pipeline',
      firing: d.active,
      message: d.active ? `ingest, landing and transform rates diverge (a growing backlog): ${d.reasons.join('; ')}` : 'rates agree again: no backlog',
      details: { reasons: d.reasons },
    });
  }
  for (const c of inputs.completeness ?? []) {
    out.push({
      key: `completeness:model:${c.model}`,
      kind: 'completeness',
      subject: c.model,
      firing: !c.met,
      message: c.message,
      details: { model: c.model, pendingLateRows: c.pendingLateRows, notExact: c.notExact.slice(0, 100), exactShare: c.exactShare },
    });
  }
  for (const c of inputs.sourceCompleteness ?? []) {
    out.push({
      key: `completeness:source:${c.source}`,
      kind: 'completeness',
      subject: c.source,
      firing: !c.met,
      message: c.message,
      details: { source: c.source, received: c.received, landed: c.landed, quarantined: c.quarantined, landedRatio: c.landedRatio, minLandedRatio: c.minLandedRatio, window: c.window },
    });
  }
  const owners = inputs.owners;
  if (!owners?.size) return out;
  return out.map((condition) => {
    const of = owners.get(condition.subject);
    if (of === undefined) return condition;
    return { ...condition, ...(of.owner !== undefined ? { owner: of.owner } : {}), ...(of.runbook !== undefined ? { runbook: of.runbook } : {}) };
  });
}

function seconds(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 100) / 10} s`;
}
