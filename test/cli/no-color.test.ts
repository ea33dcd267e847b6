import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSink, drawsOnTerminal, honourNoColor } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { Progress } from '../../src/cli/progress.js';
import { tempDir } from './cli-harness.js';

/** Terminal escapes (the progress line, serve's ticker) only on a terminal, and never with NO_COLOR set. */
let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-no-color'));
});
afterAll(async () => remove());

const ESC = '\x1b';

describe('NO_COLOR', () => {
  it('a terminal may be drawn on; a pipe, or a terminal with NO_COLOR set, may not', () => {
    expect(drawsOnTerminal(new BufferSink({ isTTY: true }))).toBe(true);
    expect(drawsOnTerminal(new BufferSink())).toBe(false);
    expect(drawsOnTerminal(honourNoColor(new BufferSink({ isTTY: true }), { NO_COLOR: '1' }))).toBe(false);
    // An empty NO_COLOR does not count (no-color.org).
    expect(drawsOnTerminal(honourNoColor(new BufferSink({ isTTY: true }), { NO_COLOR: '' }))).toBe(true);
  });

  it('the progress line draws on a fake terminal, and not at all under NO_COLOR', async () => {
    const drawn = new BufferSink({ isTTY: true });
    const plain = new BufferSink({ isTTY: true });
    const withColor = Progress.start(drawn, 'work', { delayMs: 0, intervalMs: 5 });
    const without = Progress.start(honourNoColor(plain, { NO_COLOR: '1' }), 'work', { delayMs: 0, intervalMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 40));
    withColor.stop();
    without.stop();
    expect(drawn.text()).toContain(`${ESC}[2K`);
    expect(plain.text()).toBe('');
  });

  it('a verb run on a fake terminal with NO_COLOR prints no escape', async () => {
    const stdout = new BufferSink({ isTTY: true, columns: 80 });
    const stderr = new BufferSink({ isTTY: true, columns: 80 });
    const code = await main(['--lake', dir, 'query', 'select 42 as n'], { stdout, stderr, cwd: dir, env: { NO_COLOR: '1' } });
    expect(code, stderr.text()).toBe(0);
    expect(stdout.text()).toContain('42');
    expect(stdout.text() + stderr.text()).not.toContain(ESC);
  });
});
