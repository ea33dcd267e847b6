/**
 * The edit distance between two strings: the fewest single-character insertions,
 * deletions, substitutions and swaps of two neighbours that turn `a` into `b`.
 *
 * @example
 * editDistance('partiton_by', 'partition_by') // 1
 * editDistance('ordres', 'orders') // 1
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
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
