/** Names of environment variables whose values are secrets (and never leave the process in a log, alert or lineage event). */
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|SESSION|API_?KEY|ACCESS_?KEY|AUTH/i;

/** AWS access key ids (long-term and temporary): redacted wherever they appear, from the environment or not. */
const AWS_KEY_ID = /\b(?:AKIA|ASIA|AROA|AIDA)[0-9A-Z]{16}\b/g;

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Removes credentials from text that leaves the process: AWS access key ids, and the values
 * of secret-looking environment variables (`AWS_SECRET_ACCESS_KEY`, `*_TOKEN`, `*_PASSWORD`,
 * ...) as they are and as JSON escapes them — so it applies to a serialized event too.
 *
 * @example
 * const redact = secretRedactor(process.env);
 * redact(`key ${process.env.AWS_SECRET_ACCESS_KEY}`); // 'key [redacted]'
 */
export function secretRedactor(env: Readonly<Record<string, string | undefined>>): (text: string) => string {
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    // Short values ("1", "true") would redact ordinary words; no credential is that short.
    if (value === undefined || value.length < 8 || !SECRET_NAME.test(name)) continue;
    secrets.add(value);
    secrets.add(JSON.stringify(value).slice(1, -1));
  }
  // Longest first, so a secret containing another is replaced whole.
  const values = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const value of values) if (out.includes(value)) out = out.split(value).join(REDACTED);
    return out.replace(AWS_KEY_ID, REDACTED);
  };
}
