import { editDistance } from './edit-distance.js';

/**
 * The candidates a mistyped name was probably meant to be, best first: those within a
 * small edit distance (1 for names of up to 4 characters, else 2; case-insensitive), then
 * those sharing a prefix of at least 3 characters with it (`ord` → `orders`).
 *
 * @example
 * suggest('silver.orderz', ['silver.orders', 'gold.daily_revenue']); // ['silver.orders']
 */
export function suggest(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const wanted = name.toLowerCase();
  const maxDistance = wanted.length <= 4 ? 1 : 2;
  const scored: { candidate: string; score: number }[] = [];
  for (const candidate of new Set(candidates)) {
    const other = candidate.toLowerCase();
    if (other === wanted) continue;
    const distance = editDistance(wanted, other);
    if (distance <= maxDistance) scored.push({ candidate, score: distance });
    else if (Math.min(wanted.length, other.length) >= 3 && (other.startsWith(wanted) || wanted.startsWith(other))) {
      scored.push({ candidate, score: maxDistance + 1 });
    }
  }
  scored.sort((a, b) => a.score - b.score || a.candidate.localeCompare(b.candidate));
  return scored.slice(0, limit).map((s) => s.candidate);
}

/**
 * `suggest` as a sentence to append to a message: `did you mean silver.orders?`, or
 * `undefined` when nothing is close.
 *
 * @example
 * didYouMean('partiton_by', ['partition_by', 'unique_key']); // 'did you mean partition_by?'
 */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const near = suggest(name, candidates);
  if (near.length === 0) return undefined;
  return `did you mean ${near.length === 1 ? near[0] : `${near.slice(0, -1).join(', ')} or ${near[near.length - 1]}`}?`;
}

/**
 * The hint for names that are not among `known`: a did-you-mean for each that is close to
 * one, then the known names (`Did you mean silver.orders? Tables: gold.a, silver.orders.`),
 * or `none` when there are no names at all.
 *
 * @example
 * unknownNamesHint(['ordrs'], ['orders'], 'Sources', 'Add contracts/<source>.ts.'); // 'Did you mean orders? Sources: orders.'
 */
export function unknownNamesHint(unknown: readonly string[], known: readonly string[], label: string, none: string): string {
  if (known.length === 0) return none;
  const near = unknown.map((name) => didYouMean(name, known)).filter((s): s is string => s !== undefined);
  const sentences = near.map((s) => `${s.charAt(0).toUpperCase()}${s.slice(1)} `).join('');
  return `${sentences}${label}: ${known.join(', ')}.`;
}
