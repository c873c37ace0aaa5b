/** RFC 9111 §5.2: Cache-Control as a map of lower-case directive → value (true when it has none). Pure. */
import type { HeaderValue } from '../core/headers.js'

export type Directives = ReadonlyMap<string, string | true>

const EMPTY: Directives = new Map()

export function parseCacheControl (value: HeaderValue): Directives {
  if (value === undefined) return EMPTY
  const text = Array.isArray(value) ? value.join(',') : value
  if (text === '') return EMPTY
  const out = new Map<string, string | true>()
  for (const part of text.split(',')) {
    const eq = part.indexOf('=')
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase()
    if (name === '' || out.has(name)) continue
    const raw = eq === -1 ? true : part.slice(eq + 1).trim().replace(/^"|"$/g, '')
    out.set(name, raw)
  }
  return out
}

/** A delta-seconds directive (RFC 9111 §1.2.2): a non-negative integer, or undefined when absent or malformed. */
export function deltaSeconds (directives: Directives, name: string): number | undefined {
  const raw = directives.get(name)
  if (raw === undefined || raw === true || !/^\d+$/.test(raw)) return undefined
  return Number(raw)
}
