/**
 * Why a `runbook` value (a model header's or a contract's) is not usable, or undefined when
 * it is: either an http(s) URL, or a line of text saying what to do (`page #payments-oncall;
 * replay from the dead-letter bucket`). It travels in every alert about its table or source,
 * so a URL carrying a user or password is refused (alerts never carry credentials).
 *
 * @example
 * runbookIssue('https://wiki.example/runbooks/orders'); // undefined
 * runbookIssue('ftp://wiki/orders'); // 'expected an http(s) URL or a line of text, got a ftp: URL'
 */
export function runbookIssue(value: string): string | undefined {
  const text = value.trim();
  if (text === '') return 'expected a URL (https://…) or a line of text saying what to do when this alerts';
  if (text.length > 2000) return `expected at most 2000 characters (got ${text.length}); link to a longer runbook instead`;
  if (/[\u0000-\u001f\u007f]/.test(text)) return 'expected one line (no line breaks or control characters); link to a longer runbook instead';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (scheme === null) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a valid URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `expected an http(s) URL or a line of text, got a ${url.protocol} URL`;
  if (url.username !== '' || url.password !== '') return 'the URL carries a user or password; alerts include the runbook, so link to it without credentials';
  return undefined;
}
