/**
 * The Levenshtein distance between two strings: the fewest single-character insertions,
 * deletions and substitutions that turn `a` into `b`.
 *
 * @example
 * editDistance('partiton_by', 'partition_by') // 1
 */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidates within `maxDistance` edits of `word` (case-insensitive), nearest first, for
 * "did you mean" hints; empty when none is close enough to be a typo.
 *
 * @example
 * nearMisses('silver.orderz', ['silver.orders', 'gold.daily_revenue']) // ['silver.orders']
 */
export function nearMisses(word: string, candidates: Iterable<string>, maxDistance = 2): string[] {
  const scored: { candidate: string; distance: number }[] = [];
  for (const candidate of new Set(candidates)) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= maxDistance && candidate !== word) scored.push({ candidate, distance });
  }
  return scored.sort((x, y) => x.distance - y.distance || x.candidate.localeCompare(y.candidate)).map((s) => s.candidate);
}
