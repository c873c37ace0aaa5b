/**
 * origin/balance: which server of a group takes the next request. Smooth weighted round robin (nginx's upstream
 * default): each pick adds every candidate's weight to its running score, takes the highest, and takes the total off
 * the winner's. Weights 5:1:1 give a a b a c a a, not a a a a a b c, so no server gets a burst; equal weights are a
 * plain rotation. O(servers) per pick, a few additions each: a group is tens of servers at most.  [pure]
 */

/**
 * The index of the server to use, or -1 when no candidate has a positive weight. `weights[i]` is server i's weight
 * now (0: not a candidate: down, ejected, or already tried for this request). `scores` is the group's running state,
 * one entry per server, updated in place.
 */
export function pickWeighted (scores: Float64Array, weights: ArrayLike<number>): number {
  let best = -1
  let bestScore = Number.NEGATIVE_INFINITY
  let total = 0
  for (let i = 0; i < weights.length; i++) {
    const weight = weights[i] as number
    if (weight <= 0) continue
    const score = (scores[i] as number) + weight
    scores[i] = score
    total += weight
    if (score > bestScore) {
      best = i
      bestScore = score
    }
  }
  if (best !== -1) scores[best] = bestScore - total
  return best
}
