/**
 * Which path a request goes to: a fixed path, a range template (`/article/{1..5000}`, picked uniformly or by zipf),
 * or a list read from a pathsFile. Pure: the PRNG is passed in, and a pathsFile arrives as text.
 */

/** `/article/{1..5000}` → prefix `/article/`, range 1..5000, suffix ``. */
export interface PathTemplate {
  readonly prefix: string
  readonly first: number
  readonly last: number
  readonly suffix: string
}

// A zipf pick keeps a cumulative table of one double per value: 1e6 values is 8 MB (per worker thread).
const MAX_TEMPLATE_VALUES = 1_000_000
// A replayed access log may hold 100k distinct URLs; the per-path breakdown keeps this many by name and the rest
// as one row, so the report stays readable and each row's histogram (a few KB) does not add up to hundreds of MB.
export const MAX_NAMED_LINES = 200

const TEMPLATE = /\{(\d+)\.\.(\d+)\}/g

/** The template in `path`, undefined for a plain path, or a string saying what is wrong with it. */
export function parseTemplate (path: string): PathTemplate | undefined | string {
  const matches = [...path.matchAll(TEMPLATE)]
  if (matches.length === 0) return undefined
  if (matches.length > 1) return 'may hold one {first..last} range, not several'
  const m = matches[0] as RegExpMatchArray
  const first = Number(m[1])
  const last = Number(m[2])
  if (first > last) return `range {${first}..${last}} runs backwards`
  if (last - first + 1 > MAX_TEMPLATE_VALUES) return `range {${first}..${last}} holds more than ${MAX_TEMPLATE_VALUES} values`
  const at = m.index ?? 0
  return { prefix: path.slice(0, at), first, last, suffix: path.slice(at + m[0].length) }
}

/** One path per line; blank lines and `#` comments skipped. Throws nothing: returns the lines or the first bad one. */
export function parsePathsList (text: string): { paths: string[] } | { line: number, reason: string } {
  const paths: string[] = []
  const lines = text.split(/\r?\n/)
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    if (!line.startsWith('/')) return { line: i + 1, reason: 'must start with "/"' }
    if (/\s/.test(line)) return { line: i + 1, reason: 'must not contain spaces (one path per line)' }
    paths.push(line)
  }
  if (paths.length === 0) return { line: 0, reason: 'holds no paths' }
  return { paths }
}

/** Index into a cumulative weight table for x in [0, total). */
export function searchCumulative (cumulative: ArrayLike<number>, x: number): number {
  let lo = 0
  let hi = cumulative.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((cumulative[mid] ?? Infinity) > x) hi = mid
    else lo = mid + 1
  }
  return lo
}

/**
 * Picks an offset in [0, n): uniform, or zipf with exponent s (offset k with probability ∝ 1/(k+1)^s), so the
 * first value of a range is the most popular page, the second half as popular at s = 1, and so on.
 */
export function makeOffsetPicker (n: number, pick: 'uniform' | 'zipf', exponent: number, random: () => number): () => number {
  if (pick === 'uniform' || n === 1) return () => Math.min(n - 1, Math.floor(random() * n))
  const cumulative = new Float64Array(n)
  let total = 0
  for (let k = 0; k < n; k++) cumulative[k] = total += 1 / (k + 1) ** exponent
  return () => searchCumulative(cumulative, random() * total)
}

/** Distinct lines with their counts, most frequent first; ties keep file order. */
export function countLines (paths: readonly string[]): Array<[string, number]> {
  const counts = new Map<string, number>()
  for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1])
}
