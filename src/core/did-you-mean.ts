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

/** Levenshtein distance, with a transposition of two neighbours counting as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
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
