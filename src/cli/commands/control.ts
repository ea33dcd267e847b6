import { LakeloopError, UsageError } from '../../core/index.js';
import type { CommandContext } from '../command-context.js';

export interface ControlOptions {
  readonly url?: string;
  readonly token?: string;
  readonly json?: boolean;
}

const ACTIONS = ['pause', 'step', 'resume'];

/**
 * `lakeloop control pause|step|resume`: `POST /api/control/<action>` to a running serve
 * with its control token, and prints the mode and the decision it answers with (for
 * `step`, what that one cycle did). A refusal (401, 403, 409) fails with serve's reason.
 */
export async function controlCommand(action: string, options: ControlOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  if (!ACTIONS.includes(action)) throw new UsageError(`control expects pause, step or resume, got ${JSON.stringify(action)}`);
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
    response = await fetch(url, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(120_000) });
  } catch (error) {
    throw new LakeloopError('CONTROL_UNREACHABLE', `Failed to reach serve at ${url.origin}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`, {
      cause: error,
      hint: 'Is lakeloop serve running there? Give its address with --url.',
    });
  }
  const text = await response.text();
  let body: { error?: string; hint?: string; mode?: string; ran?: boolean; decision?: { text?: string; at?: string } | null } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: reported below with the status code
  }
  if (!response.ok) {
    const hint = response.status === 401 && token === undefined ? 'Give the token with --token or LAKELOOP_CONTROL_TOKEN.' : body.hint;
    throw new LakeloopError('CONTROL_REFUSED', `serve refused ${action} (${response.status}): ${body.error ?? text.trim().slice(0, 200)}`, { ...(hint ? { hint } : {}) });
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify(body)}\n`);
    return;
  }
  io.stdout.write(`mode: ${body.mode ?? 'unknown'}${body.mode === 'paused' ? ' (model runs wait; landing goes on)' : ''}\n`);
  if (body.decision?.text) io.stdout.write(`${action === 'step' ? 'step' : 'last decision'}: ${body.decision.text}\n`);
}
