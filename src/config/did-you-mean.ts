/** "did you mean": the known name closest to a misspelt one. Pure. */

/** Edit distance (insert, delete, substitute; a swap of neighbours counts one), stopped early past `limit`. */
function editDistance (a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  let before: number[] = []
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] as number) + 1)
      row.push(d)
    }
    before = prev
    prev = row
  }
  return prev[b.length] as number
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
