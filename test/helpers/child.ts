import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

/** A TypeScript script of this repository running in a child process, with its output lines collected. */
export interface TsChild {
  readonly process: ChildProcess;
  /** Lines printed on stdout so far. */
  readonly lines: string[];
  /** Everything printed on stderr so far. */
  stderr(): string;
  /** Resolves when a stdout line matches (or rejects when the child exits first or time runs out). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or the signal name) once the child has ended. */
  exited: Promise<number | string>;
  /** kill -9. */
  kill(): Promise<number | string>;
}

/** Starts `node bin/run-ts.js <script> ...args` with extra environment variables, in `cwd` (default: the repository). */
export function spawnTs(script: string, args: readonly string[], env: Record<string, string> = {}, cwd: string = PROJECT_ROOT): TsChild {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'run-ts.js'), join(PROJECT_ROOT, script), ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let errText = '';
  let partial = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    errText += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return {
    process: child,
    lines,
    stderr: () => errText,
    exited,
    waitForLine(pattern, timeoutMs = 30_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; stderr:\n${errText}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`child exited (${code}) before printing ${pattern}; stderr:\n${errText}`));
        });
      });
    },
    async kill() {
      child.kill('SIGKILL');
      return exited;
    },
  };
}
