/**
 * The request mix, resolved once before the run into plain data (it crosses to worker threads), and the seeded
 * picker each load thread builds from it. Every request carries the index of its path label: the path as written
 * in the scenario (a template stays `/article/{1..5000}`), or one line of a pathsFile.
 */
import { countLines, makeOffsetPicker, MAX_NAMED_LINES, parseTemplate, searchCumulative, type PathTemplate } from './paths.js'
import type { ScenarioRequest } from './scenario.js'

interface Common {
  readonly method: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
  readonly weight: number
}

export type MixEntry = Common & (
  | { readonly kind: 'fixed', readonly path: string, readonly label: number }
  | { readonly kind: 'template', readonly template: PathTemplate, readonly pick: 'uniform' | 'zipf', readonly exponent: number, readonly label: number }
  | { readonly kind: 'list', readonly lines: readonly string[], readonly cumulative: readonly number[], readonly labels: readonly number[] }
)

export interface Mix {
  /** Path labels for the per-path breakdown, indexed by WireRequest.label. */
  readonly labels: readonly string[]
  readonly entries: readonly MixEntry[]
}

export interface WireRequest {
  readonly label: number
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: string
}

/** Scenario requests (pathsFile already read into `paths`) → the mix. */
export function makeMix (requests: readonly ScenarioRequest[]): Mix {
  const labels: string[] = []
  const labelOf = new Map<string, number>()
  const label = (name: string): number => {
    let i = labelOf.get(name)
    if (i === undefined) {
      i = labels.push(name) - 1
      labelOf.set(name, i)
    }
    return i
  }
  const entries = requests.map((r): MixEntry => {
    const common: Common = { method: r.method, headers: { ...r.headers }, weight: r.weight, ...(r.body === undefined ? {} : { body: r.body }) }
    if (r.paths !== undefined) {
      const counted = countLines(r.paths)
      const other = `${r.pathsFile ?? 'pathsFile'} (other paths)`
      const cumulative: number[] = []
      let total = 0
      for (const [, n] of counted) cumulative.push(total += n)
      return {
        ...common,
        kind: 'list',
        lines: counted.map(([p]) => p),
        cumulative,
        labels: counted.map(([p], i) => label(i < MAX_NAMED_LINES ? p : other))
      }
    }
    const path = r.path ?? '/'
    const template = parseTemplate(path)
    if (template === undefined || typeof template === 'string') return { ...common, kind: 'fixed', path, label: label(path) }
    return { ...common, kind: 'template', template, pick: r.pick, exponent: r.zipfExponent, label: label(path) }
  })
  return { labels, entries }
}

/** Seeded PRNG (mulberry32): the same seed sends the same sequence of pages. */
export function makePrng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A picker: an entry with probability weight / total weight, then a path within it, all from one seeded PRNG. */
export function makePicker (mix: Mix, seed: number): () => WireRequest {
  const random = makePrng(seed)
  const cumulative: number[] = []
  let total = 0
  for (const e of mix.entries) cumulative.push(total += e.weight)
  const pickers = mix.entries.map((e) => entryPicker(e, random))
  return () => {
    const picker = pickers[searchCumulative(cumulative, random() * total)] ?? pickers[0]
    return (picker as () => WireRequest)()
  }
}

function entryPicker (e: MixEntry, random: () => number): () => WireRequest {
  const base = { method: e.method, headers: { ...e.headers }, ...(e.body === undefined ? {} : { body: e.body }) }
  switch (e.kind) {
    case 'fixed': {
      const wire = { ...base, label: e.label, path: e.path }
      return () => wire
    }
    case 'template': {
      const { prefix, first, last, suffix } = e.template
      const offset = makeOffsetPicker(last - first + 1, e.pick, e.exponent, random)
      return () => ({ ...base, label: e.label, path: `${prefix}${first + offset()}${suffix}` })
    }
    case 'list': {
      const lineTotal = e.cumulative.at(-1) ?? 0
      return () => {
        const i = searchCumulative(e.cumulative, random() * lineTotal)
        return { ...base, label: e.labels[i] ?? 0, path: e.lines[i] ?? '/' }
      }
    }
  }
}
