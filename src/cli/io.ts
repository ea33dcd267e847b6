/** Somewhere text goes: `process.stdout`, `process.stderr`, or a test's buffer. */
export interface TextSink {
  write(chunk: string): unknown;
  /** Binary output (`query --format arrow`); where absent, `write` is given the bytes (as `process.stdout` takes them). */
  writeBytes?(chunk: Uint8Array): unknown;
  /** True when a terminal is attached (progress display, colours, widths). */
  readonly isTTY?: boolean;
  /** The terminal's width, when `isTTY`. */
  readonly columns?: number;
  /** False when terminal escapes are not wanted even on a terminal (`NO_COLOR` is set). */
  readonly ansi?: boolean;
}

/**
 * Whether `sink` may be drawn on with terminal escapes (clearing a line, a spinner,
 * colour): only a terminal, and never when the user set `NO_COLOR` (https://no-color.org).
 */
export function drawsOnTerminal(sink: TextSink): boolean {
  return sink.isTTY === true && sink.ansi !== false;
}

/** `sink` as it is, or, when `NO_COLOR` is set to anything but "", the same sink marked `ansi: false`. */
export function honourNoColor(sink: TextSink, env: Readonly<Record<string, string | undefined>>): TextSink {
  if ((env['NO_COLOR'] ?? '') === '') return sink;
  return {
    write: (chunk) => sink.write(chunk),
    ...(sink.writeBytes ? { writeBytes: (chunk: Uint8Array) => sink.writeBytes?.(chunk) } : {}),
    get isTTY() {
      return sink.isTTY;
    },
    get columns() {
      return sink.columns;
    },
    ansi: false,
  };
}

/** What the CLI talks to; `main` defaults it to the process's, tests inject their own. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** The folder relative paths on the command line resolve against. */
  readonly cwd: string;
  /** Where `LAKELOOP_*` settings are read from (default `process.env`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** What `ingest -` reads (default `process.stdin`). */
  readonly stdin?: NodeJS.ReadableStream;
}

/** A `TextSink` that keeps what it is given, for tests and for capturing output. */
export class BufferSink implements TextSink {
  readonly isTTY: boolean;
  readonly columns: number | undefined;
  private readonly chunks: string[] = [];

  constructor(options: { isTTY?: boolean; columns?: number } = {}) {
    this.isTTY = options.isTTY ?? false;
    this.columns = options.columns;
  }

  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }

  private readonly binary: Uint8Array[] = [];

  writeBytes(chunk: Uint8Array): boolean {
    this.binary.push(chunk);
    return true;
  }

  /** Every byte written with `writeBytes` so far. */
  bytes(): Uint8Array {
    return Buffer.concat(this.binary);
  }

  /** Everything written so far. */
  text(): string {
    return this.chunks.join('');
  }

  /** The last non-empty line written (where `--json` output goes). */
  lastLine(): string {
    const lines = this.text().split('\n').filter((l) => l.trim() !== '');
    return lines[lines.length - 1] ?? '';
  }
}
