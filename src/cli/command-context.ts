import type { ResolvedConfig } from '../config/index.js';
import type { CliIo } from './io.js';
import type { Session } from './session.js';

/** The options every verb accepts (before or after the verb). */
export interface GlobalOptions {
  readonly config?: string;
  readonly lake?: string;
  readonly verbose?: boolean;
}

/** What a verb runs with: where to write, the global options, and the project opened lazily. */
export interface CommandContext {
  readonly io: CliIo;
  readonly globals: GlobalOptions;
  /** The verb runs as the `lakeloop` process itself (not called in-process by a test or a bench): it may change process-wide settings such as its CPU priority. */
  readonly ownsProcess: boolean;
  /** Writes a line to stderr when `--verbose` is on. */
  verbose(message: string): void;
  /** The project config (`--config` or the default file, with `--lake` applied); loaded once. */
  config(): Promise<ResolvedConfig>;
  /**
   * Opens the lake's store, an engine and the lake (closed by `main` when the verb ends).
   * `mustExist`: a local lake root that does not exist is an error instead of being created.
   */
  session(options?: { mustExist?: boolean }): Promise<Session>;
  /** Registers cleanup that `main` runs when the verb ends, however it ends. */
  onClose(close: () => Promise<void>): void;
}
