import { drawsOnTerminal, type TextSink } from './io.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A one-line progress display for long work, drawn on stderr only when it is a TTY and
 * `NO_COLOR` is not set (nothing at all otherwise, so pipes and logs stay clean). It appears after `delayMs`,
 * so quick work never flickers, and erases itself when done.
 *
 * @example
 * const progress = Progress.start(io.stderr, 'ingesting orders');
 * progress.update(`${n} records`);
 * progress.stop();
 */
export class Progress {
  private text = '';
  private frame = 0;
  private drawn = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedMs = Date.now();

  private constructor(
    private readonly sink: TextSink,
    private readonly label: string,
  ) {}

  static start(sink: TextSink, label: string, options: { delayMs?: number; intervalMs?: number } = {}): Progress {
    const progress = new Progress(sink, label);
    if (drawsOnTerminal(sink)) {
      const delay = setTimeout(() => {
        progress.draw();
        progress.timer = setInterval(() => progress.draw(), options.intervalMs ?? 100);
        progress.timer.unref();
      }, options.delayMs ?? 250);
      delay.unref();
      progress.timer = delay;
    }
    return progress;
  }

  /** Replaces the detail shown after the label (e.g. `12,000 rows`). */
  update(text: string): void {
    this.text = text;
  }

  /** Erases the line and stops drawing; safe to call more than once. */
  stop(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (this.drawn) this.sink.write('\r\x1b[2K');
    this.drawn = false;
  }

  /** Runs `work` with the display on, and stops it however `work` ends. */
  static async around<T>(sink: TextSink, label: string, work: (progress: Progress) => Promise<T>): Promise<T> {
    const progress = Progress.start(sink, label);
    try {
      return await work(progress);
    } finally {
      progress.stop();
    }
  }

  private draw(): void {
    const seconds = ((Date.now() - this.startedMs) / 1000).toFixed(1);
    const symbol = FRAMES[this.frame++ % FRAMES.length] ?? '*';
    const detail = this.text ? ` ${this.text}` : '';
    let line = `${symbol} ${this.label}${detail} (${seconds}s)`;
    const width = this.sink.columns ?? 80;
    if (line.length > width - 1) line = `${line.slice(0, width - 2)}…`;
    this.sink.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }
}
