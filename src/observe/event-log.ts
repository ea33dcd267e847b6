import { createRequire } from 'node:module';
import type { Logger } from 'pino';

/** Where log text goes (a `TextSink`: stdout, stderr, a test's buffer). */
export interface LogSink {
  write(chunk: string): unknown;
}

/** The events lakeloop logs with their fields, one line each in JSON mode. */
export type LogEvent =
  | 'batch_landed'
  | 'model_run'
  | 'model_failed'
  | 'job'
  | 'alert'
  | 'lineage_error'
  | 'alert_error'
  | 'budget_exceeded'
  | 'budget_ok'
  | 'message';

/**
 * serve's log: structured events (`event(...)`) and the human lines it printed before
 * (`line(...)`). `JsonEventLog` writes both as JSON lines (pino); `HumanEventLog` prints
 * only the lines, as they always were.
 *
 * @example
 * log.event('info', 'model_run', { model: 'gold.daily', version: 7, seconds: 0.42, rows: 120 });
 */
export interface EventLog {
  readonly json: boolean;
  event(level: 'info' | 'warn' | 'error', event: LogEvent, fields: Readonly<Record<string, unknown>>, message?: string): void;
}

/** The human log: structured events are not printed (the human lines already say them). */
export class HumanEventLog implements EventLog {
  readonly json = false;
  event(): void {}
}

/**
 * JSON lines through pino: `{"level":30,"time":...,"event":"model_run","model":"gold.daily",...,"msg":"..."}`.
 * Each serialized line passes through `redact` before it is written.
 */
export class JsonEventLog implements EventLog {
  readonly json = true;
  readonly logger: Logger;

  constructor(sink: LogSink, redact: (text: string) => string = (t) => t) {
    // Loaded here, not with the folder: only `--log-format json` uses pino (~30 ms of CPU to load; CommonJS, so `require` loads it at once).
    const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
    this.logger = pino(
      { base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
      { write: (line: string) => sink.write(redact(line)) },
    );
  }

  event(level: 'info' | 'warn' | 'error', event: LogEvent, fields: Readonly<Record<string, unknown>>, message?: string): void {
    this.logger[level]({ event, ...fields }, message ?? event.replace(/_/g, ' '));
  }

  /**
   * A text sink that turns each printed line into a JSON `message` event, so that the
   * lines serve printed before (listening on ..., warnings) are JSON too. Terminal control
   * sequences (the live line's `\r\x1b[2K`) are dropped.
   */
  lines(level: 'info' | 'warn'): LogSink & { readonly isTTY: false } {
    let partial = '';
    return {
      isTTY: false,
      write: (chunk: string) => {
        partial += chunk;
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        for (const raw of parts) {
          // eslint-disable-next-line no-control-regex
          const line = raw.replace(/\r|\x1b\[[0-9;]*[A-Za-z]/g, '').trimEnd();
          if (line) this.logger[/^(warning|error)\b/i.test(line) ? 'warn' : level]({ event: 'message' }, line);
        }
        return true;
      },
    };
  }
}
