import { LakeloopError, UsageError, WorkSkipped } from '../../core/index.js';
import type { CommandContext } from '../command-context.js';

export interface ControlOptions {
  readonly url?: string;
  readonly token?: string;
  readonly json?: boolean;
  /** reconcile: the window and models asked for, a dry run, and whether to wait for the end. */
  readonly from?: string;
  readonly to?: string;
  readonly models?: string[];
  readonly dryRun?: boolean;
  readonly wait?: boolean;
}

const ACTIONS = ['pause', 'step', 'resume', 'reconcile'];

/** How often `control reconcile --wait` asks serve whether the run has ended. */
const WAIT_POLL_MS = 500;

/**
 * `lakeloop control pause|step|resume|reconcile`: `POST /api/control/<action>` to a running
 * serve with its control token, and prints the mode and the decision it answers with (for
 * `step`, what that one cycle did). `reconcile` starts a reconcile in serve's separate circuit
 * (the console's button does the same) with `--from`/`--to`/`--models`/`--dry-run`, and with
 * `--wait` follows it to its report. A refusal (400, 401, 403, 409) fails with serve's reason.
 */
export async function controlCommand(action: string, options: ControlOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  if (!ACTIONS.includes(action)) throw new UsageError(`control expects pause, step, resume or reconcile, got ${JSON.stringify(action)}`);
  if (action !== 'reconcile') {
    const misplaced = (['from', 'to', 'models', 'dryRun', 'wait'] as const).filter((k) => options[k] !== undefined);
    if (misplaced.length) throw new UsageError(`${misplaced.map((k) => `--${k === 'dryRun' ? 'dry-run' : k}`).join(', ')} ${misplaced.length === 1 ? 'goes' : 'go'} with control reconcile, not control ${action}`);
  }
  const base = options.url ?? 'http://127.0.0.1:8080';
  let url: URL;
  try {
    url = new URL(`/api/control/${action}`, base);
  } catch {
    throw new UsageError(`--url expects a URL such as http://127.0.0.1:8080, got ${JSON.stringify(base)}`);
  }
  const token = options.token ?? (io.env['LAKELOOP_CONTROL_TOKEN'] || undefined);
  let response: Response;
  try {
    const request = action === 'reconcile' ? JSON.stringify({ from: options.from, to: options.to, models: options.models, dryRun: options.dryRun === true }) : undefined;
    response = await fetch(url, {
      method: 'POST',
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(request ? { 'content-type': 'application/json' } : {}) },
      ...(request ? { body: request } : {}),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (error) {
    throw new LakeloopError('CONTROL_UNREACHABLE', `Failed to reach serve at ${url.origin}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`, {
      cause: error,
      hint: 'Is lakeloop serve running there? Give its address with --url.',
    });
  }
  const text = await response.text();
  let body: { error?: string; hint?: string; mode?: string; ran?: boolean; decision?: { text?: string; at?: string } | null; run?: ConsoleRun } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: reported below with the status code
  }
  if (!response.ok) {
    const hint = response.status === 401 && token === undefined ? 'Give the token with --token or LAKELOOP_CONTROL_TOKEN.' : body.hint;
    throw new LakeloopError('CONTROL_REFUSED', `serve refused ${action} (${response.status}): ${body.error ?? text.trim().slice(0, 200)}`, { ...(hint ? { hint } : {}) });
  }
  if (action === 'reconcile') return followReconcile(url.origin, body.run as ConsoleRun, options, context);
  if (options.json) {
    io.stdout.write(`${JSON.stringify(body)}\n`);
    return;
  }
  io.stdout.write(`mode: ${body.mode ?? 'unknown'}${body.mode === 'paused' ? ' (model runs wait; landing goes on)' : ''}\n`);
  if (body.decision?.text) io.stdout.write(`${action === 'step' ? 'step' : 'last decision'}: ${body.decision.text}\n`);
}

/** A console reconcile as serve reports it (`ConsoleReconcileRun`). */
interface ConsoleRun {
  readonly id: number;
  readonly status: string;
  readonly progress: readonly string[];
  readonly report: string | null;
  readonly error: string | null;
  readonly hint?: string | null;
}

interface ReportSummaryBody {
  readonly summary: {
    readonly partitions: { match: number; corrected: number; held: number; failed: number };
    readonly rows: { before: number; after: number };
    readonly lateRows: number;
    readonly held: readonly { model: string; partition: string }[];
  };
}

/**
 * Prints the run started; with `--wait`, its progress lines and, at the end, its report's
 * summary: exit 1 when it failed or held partitions, `WorkSkipped` (exit 3, `skipped: <reason>`)
 * when serve refused it before it started (the scan budget), exit 0 when it reconciled.
 */
async function followReconcile(origin: string, started: ConsoleRun, options: ControlOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  if (!options.wait) {
    io.stdout.write(options.json ? `${JSON.stringify({ run: started })}\n` : `reconcile #${started.id} started in serve's separate circuit; follow it in the console or with --wait\n`);
    return;
  }
  if (!options.json) io.stdout.write(`reconcile #${started.id} started; waiting for it to end\n`);
  let lastLine: string | undefined;
  let run: ConsoleRun | undefined;
  for (;;) {
    const state = await getJson<{ reconcile?: { running: ConsoleRun | null; last: ConsoleRun | null } }>(`${origin}/api/console`);
    const current = state.reconcile?.running?.id === started.id ? state.reconcile.running : state.reconcile?.last?.id === started.id ? state.reconcile.last : undefined;
    if (current && !options.json) {
      // serve keeps the newest lines only: print those after the last one printed.
      const from = lastLine === undefined ? 0 : current.progress.lastIndexOf(lastLine) + 1;
      for (const line of current.progress.slice(from)) io.stderr.write(`  ${line}\n`);
      lastLine = current.progress.at(-1) ?? lastLine;
    }
    if (current && current.status !== 'running') {
      run = current;
      break;
    }
    if (!current && state.reconcile?.running === null && state.reconcile?.last?.id !== started.id) {
      throw new LakeloopError('CONTROL_LOST', `serve no longer knows reconcile #${started.id} (was it restarted?)`, { hint: 'Look for its report with GET /api/reconcile/reports.' });
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
  const report = run.report ? await getJson<ReportSummaryBody>(`${origin}/api/reconcile/report?id=${encodeURIComponent(run.report)}`).catch(() => undefined) : undefined;
  if (options.json) io.stdout.write(`${JSON.stringify({ run, summary: report?.summary ?? null })}\n`);
  else {
    const s = report?.summary;
    const counts = s ? `: ${s.partitions.match} matched, ${s.partitions.corrected} corrected, ${s.partitions.held} held, ${s.partitions.failed} failed; rows ${s.rows.before} → ${s.rows.after}, ${s.lateRows} late rows applied` : '';
    io.stdout.write(`reconcile #${run.id} ${run.status}${run.report ? ` (report ${run.report})` : ''}${counts}\n`);
  }
  if (run.status === 'skipped' || run.status === 'skipped_overlap') {
    throw new WorkSkipped(run.error ?? `reconcile #${run.id} was skipped (no reason given)`, run.hint ?? "Read serve's log for the job console-reconcile.");
  }
  if (run.status !== 'succeeded') {
    throw new LakeloopError('CONTROL_RECONCILE_FAILED', `reconcile #${run.id} ${run.status}: ${run.error ?? 'no reason given'}`, {
      hint: run.report ? `Read the report _lakeloop/reports/${run.report}.md.` : "Read serve's log for the job console-reconcile.",
    });
  }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new LakeloopError('CONTROL_REFUSED', `serve answered ${response.status} to GET ${new URL(url).pathname}`);
  return (await response.json()) as T;
}
