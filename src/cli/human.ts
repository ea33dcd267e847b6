/** `1234567` → `1,234,567`; null → `?`. */
export function formatCount(n: number | null): string {
  return n === null ? '?' : n.toLocaleString('en-US');
}

/** `plural(1, 'file')` → `1 file`; `plural(2, 'file')` → `2 files`; null → `? files`. */
export function plural(n: number | null, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : nouns}`;
}

/** `5612345` → `5.4 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Milliseconds since the epoch → ISO-8601 UTC without milliseconds when they are zero. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/**
 * Aligned text columns (two spaces apart), indented; `right[i]` right-aligns column i.
 *
 * @example
 * formatColumns(['name', 'rows'], [['orders', '12']], { right: [false, true], indent: 2 });
 */
export function formatColumns(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  options: { right?: readonly boolean[]; indent?: number } = {},
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = ' '.repeat(options.indent ?? 0);
  const line = (cells: readonly string[]): string =>
    pad +
    cells
      .map((cell, i) => (options.right?.[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Seconds as the largest whole unit that fits: `45 s`, `12 min`, `5.5 h`, `29.9 days`. */
export function formatLateness(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}
