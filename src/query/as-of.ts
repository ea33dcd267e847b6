import { UsageError } from '../core/index.js';

/** A point in a table's history: a version, or the latest version committed at or before a time. */
export type AsOf = { readonly version: number } | { readonly timestampMs: number };

const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Parses `--as-of`: a whole number is a table version; an ISO-8601 date or timestamp is a
 * time (UTC unless it carries an offset; a bare date means its midnight UTC).
 *
 * @example
 * parseAsOf('12');                    // { version: 12 }
 * parseAsOf('2024-05-01T12:00:00Z');  // { timestampMs: 1714564800000 }
 * parseAsOf('2024-05-01');            // { timestampMs: 1714521600000 }
 */
export function parseAsOf(text: string): AsOf {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const version = Number(trimmed);
    if (Number.isSafeInteger(version)) return { version };
  }
  const match = ISO.exec(trimmed);
  if (match) {
    const [, date, time, zone] = match;
    const iso = time === undefined ? `${date}T00:00:00Z` : `${date}T${time}${normalizeZone(zone)}`;
    const ms = Date.parse(iso);
    if (Number.isFinite(ms)) return { timestampMs: ms };
  }
  throw new UsageError(
    `--as-of expects a table version or an ISO timestamp, got ${JSON.stringify(text)}`,
    'Examples: --as-of 12, --as-of 2024-05-01T12:00:00Z, --as-of 2024-05-01 (midnight UTC).',
  );
}

/** `{ version: 3 }` → `version 3`; `{ timestampMs }` → `2024-05-01T12:00:00.000Z`. */
export function describeAsOf(at: AsOf): string {
  return 'version' in at ? `version ${at.version}` : new Date(at.timestampMs).toISOString();
}

function normalizeZone(zone: string | undefined): string {
  if (zone === undefined) return 'Z';
  if (/^z$/i.test(zone)) return 'Z';
  const digits = zone.replace(':', '');
  return digits.length === 3 ? `${digits}:00` : `${digits.slice(0, 3)}:${digits.slice(3)}`;
}
