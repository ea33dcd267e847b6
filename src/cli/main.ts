import { CommanderError } from 'commander';
import type { ResolvedConfig } from '../config/index.js';
import { LakeloopError, WorkSkipped } from '../core/index.js';
import type { CommandContext, GlobalOptions } from './command-context.js';
import { ExitCode, exitCodeOf } from './exit-codes.js';
import { honourNoColor, type CliIo } from './io.js';
import { buildProgram } from './program.js';
import type { Session } from './session.js';

/**
 * Runs the `lakeloop` command line and returns its exit code: 0 ok, 1 failure, 2 usage
 * error (bad arguments, invalid config, a verb not built yet), 3 skipped (`WorkSkipped`).
 * A `LakeloopError` prints `error: <message>` (a skip: `skipped: <reason>`) and `hint: <what
 * to do>` on stderr, without a stack; anything else is a bug and prints its stack. `io` lets tests capture output and set the cwd.
 *
 * @example
 * const code = await main(['query', 'select 42 as n', '--format', 'json']);
 */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const env = io.env ?? process.env;
  const cliIo: CliIo = {
    stdout: honourNoColor(io.stdout ?? process.stdout, env),
    stderr: honourNoColor(io.stderr ?? process.stderr, env),
    cwd: io.cwd ?? process.cwd(),
    env,
    ...(io.stdin ? { stdin: io.stdin } : {}),
  };
  if (io.stdout === undefined) exitQuietlyOnBrokenPipe();
  const cleanups: (() => Promise<void>)[] = [];
  let verbose = false;
  const makeContext = (globals: GlobalOptions): CommandContext => {
    verbose = globals.verbose === true;
    const say = (message: string): void => {
      if (verbose) cliIo.stderr.write(`${message}\n`);
    };
    let config: Promise<ResolvedConfig> | undefined;
    let session: Promise<Session> | undefined;
    const loadConfig = (): Promise<ResolvedConfig> =>
      (config ??= import('./session.js').then(({ resolveConfig }) => resolveConfig(cliIo, globals, say)));
    return {
      io: cliIo,
      globals,
      ownsProcess: io.stdout === undefined,
      verbose: say,
      config: loadConfig,
      onClose: (close) => cleanups.push(close),
      session: (options = {}) => {
        session ??= (async () => {
          const { openSession } = await import('./session.js');
          const opened = await openSession(await loadConfig(), cliIo, options);
          cleanups.push(() => opened.close());
          return opened;
        })();
        return session;
      },
    };
  };

  try {
    await buildProgram(cliIo, makeContext).parseAsync([...argv], { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    return report(error, cliIo, verbose);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => {
        cliIo.stderr.write(`warning: cleanup failed: ${error instanceof Error ? error.message : String(error)}\n`);
      });
    }
  }
}

function report(error: unknown, io: CliIo, verbose: boolean): number {
  if (error instanceof CommanderError) {
    // commander has already printed its message (and the usage hint) to stderr.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof LakeloopError) {
    // A skip is not an error: said as what it is, with its own exit code.
    io.stderr.write(`${error instanceof WorkSkipped ? 'skipped' : 'error'}: ${error.message}\n`);
    if (error.hint !== undefined) io.stderr.write(`hint: ${error.hint}\n`);
    if (verbose) {
      for (let cause = error.cause; cause !== undefined; cause = cause instanceof Error ? cause.cause : undefined) {
        io.stderr.write(`cause: ${cause instanceof Error ? cause.message : String(cause)}\n`);
      }
    }
    return exitCodeOf(error);
  }
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  io.stderr.write(`lakeloop internal error (a bug; please report it with the command you ran):\n${text}\n`);
  return ExitCode.failure;
}

/**
 * `lakeloop status | head` closes our stdout early: that is the reader's choice, not an
 * error, so stop without a stack (as Unix tools do). Commits are atomic, so stopping
 * mid-way never leaves a partial one.
 */
let brokenPipeHandled = false;

function exitQuietlyOnBrokenPipe(): void {
  if (brokenPipeHandled) return;
  brokenPipeHandled = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
