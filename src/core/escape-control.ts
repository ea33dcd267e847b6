// C0 and C1 control characters, DEL, and the two Unicode line separators: anything that can
// end a log line or drive a terminal (ESC) when a user's string is printed.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A user-provided string (a file key, a source name, an error message) made safe for one
 * log line: control characters become JSON-style escapes (`\n`, `\u0000`, `\u001b`), so a
 * file named `a<newline>b.ndjson` prints as `a\nb.ndjson` and never splits or forges a line.
 * Everything else, backslashes included, is left as it is; escaping twice changes nothing.
 *
 * @example
 * io.stderr.write(`${escapeControl(source)}: ingested ${escapeControl(key)}\n`);
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (char) => SHORT[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
