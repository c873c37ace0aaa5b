/**
 * Which throughput rounds count, and their medians. Pure: the runner measures, these decide.
 *
 * A round measures the server only while the load generator has CPU to spare. Once the generator is busy for (nearly)
 * every moment of the cores it may use, it sends the next request when it gets round to it, not when the server
 * answers, so it sets the pace and every server looks alike: autocannon on one core ran at 0.94-0.98 of it and
 * section 1 read 1.00 where wrk, against the same two servers, read 0.77-0.89 (issue 12, item 6).
 */

/**
 * A generator at or above this share of the cores it may use is taken as saturated. Not 1.0: /proc counts CPU in
 * clock ticks (10 ms), a busy event loop still idles in epoll between bursts, and the runner's origin and timers take
 * a little of the same core, so a generator that sets the pace read 0.94-0.98 here (issue 12), not 1.00.
 */
export const SATURATED_SHARE = 0.9

/**
 * The cores a generator can keep busy: one per thread it runs (wrk's `-t`, autocannon's workers, 1 for a single
 * event loop), no more than the cores it is allowed on.
 */
export function generatorCapacity (threads: number, allowedCores: number): number {
  return Math.max(1, Math.min(threads, allowedCores))
}

/**
 * Whether a round's generator was saturated, from its CPU in cores over the round (1.0 = one core busy). Unknown CPU
 * (NaN: no /proc) counts the round, as the bench did before it could tell: the figure is printed as n/a beside it.
 */
export function isSaturated (generatorCores: number, capacityCores: number): boolean {
  return Number.isFinite(generatorCores) && generatorCores >= SATURATED_SHARE * capacityCores
}

/** The median; NaN for no values (no round counted), so a ratio built on it reads n/a instead of a number. */
export function median (values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** The median of the values whose round counted (`counted[i]`); NaN when none did. */
export function countingMedian (values: readonly number[], counted: readonly boolean[]): number {
  return median(values.filter((_, i) => counted[i] === true))
}

/**
 * The median of the per-round ratios num/den, over the rounds both counted; NaN when none did. Rounds of the two
 * contenders run seconds apart, so a round's ratio cancels what the shared machine did to both in that minute (another
 * process taking a core, a slower minute): the ratio of two medians does not, and moved by ±0.1 from run to run where
 * the per-round ratios of one run agreed (issue 25's runs).
 */
export function pairedRatio (num: readonly number[], numCounted: readonly boolean[], den: readonly number[], denCounted: readonly boolean[]): number {
  const ratios: number[] = []
  for (let i = 0; i < num.length && i < den.length; i++) {
    if (numCounted[i] === true && denCounted[i] === true) ratios.push((num[i] as number) / (den[i] as number))
  }
  return median(ratios)
}

/** Round `round`'s order of `n` contenders: each starts a round in turn, so none always runs just after the same one. */
export function roundOrder (n: number, round: number): number[] {
  return Array.from({ length: n }, (_, i) => (i + round) % n)
}
