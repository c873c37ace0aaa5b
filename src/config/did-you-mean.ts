/** "did you mean": the known name closest to a misspelt one. Pure. */
import damerauLevenshtein from 'damerau-levenshtein'

/**
 * Edit distance (insert, delete, substitute; a swap of neighbours counts one, so `shedPrecent` is 1 from
 * `shedPercent`), from damerau-levenshtein (issue 26, item 8: a hand-written one did the same). Plain Levenshtein
 * (fastest-levenshtein) counts a swap as 2 and would miss `trcae` for `trace`. Capped at `limit + 1`.
 */
export function editDistance (a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  return Math.min(damerauLevenshtein(a, b).steps, limit + 1)
}

/**
 * The known name a typo most likely meant: same letters in another case, else within a third of its length
 * (at least 1, at most 3) edits. Undefined when nothing is that close: a wrong guess is worse than none.
 */
export function closestName (name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase()
  const sameCase = known.find((k) => k.toLowerCase() === lower)
  if (sameCase !== undefined) return sameCase
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)))
  let best: string | undefined
  let bestDistance = limit + 1
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase(), limit)
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best
}
