/** Somewhere text goes: `process.stdout`, `process.stderr`, or a test's buffer. */
export interface TextSink {
  write(chunk: string): unknown;
  /** Binary output (`query --format arrow`); where absent, `write` is given the bytes (as `process.stdout` takes them). */
  writeBytes?(chunk: Uint8Array): unknown;
  /** True when a terminal is attached (progress display, colours, widths). */
  readonly isTTY?: boolean;
  /** The terminal's width, when `isTTY`. */
  readonly columns?: number;
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
  private readonly chunks: string[] = [];

  constructor(options: { isTTY?: boolean } = {}) {
    this.isTTY = options.isTTY ?? false;
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
