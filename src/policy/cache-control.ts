/**
 * policy/cache-control: Cache-Control (RFC 9111 §5.2) read the way RFC 9110 §5.6 spells lists, tokens and
 * quoted-strings, so `no-cache="set-cookie, x-a"` is one directive, not two. Pure, and run once per origin response
 * (never on a hit). Hand-written because http-cache-semantics keeps its parser private and splits on "," (which
 * breaks quoted lists); the grammar is small: `#( token [ "=" ( token / quoted-string ) ] )`.
 */
import type { HeaderValue } from '../core/headers.js'

/** Lower-case directive name → its argument (unquoted), or true when it has none. */
export type Directives = ReadonlyMap<string, string | true>

const NO_DIRECTIVES: Directives = new Map()

/** One list member as the tokenizer read it: `name[=value][;target…]`. Surrogate-Control uses the targets. */
export interface ListMember {
  readonly name: string
  readonly value: string | true
  /** Lower-case tokens after `;` (W3C Edge Architecture device tokens); Cache-Control allows none. */
  readonly targets: readonly string[]
}

export function parseCacheControl (value: HeaderValue): Directives {
  const text = joinLines(value)
  if (text === undefined) return NO_DIRECTIVES
  const out = new Map<string, string | true>()
  for (const member of tokenizeDirectives(text)) {
    // RFC 9111 §4.2.1: a directive given twice: the first occurrence is used. A `;` is not Cache-Control syntax.
    if (member.targets.length === 0 && !out.has(member.name)) out.set(member.name, member.value)
  }
  return out
}

/** A field sent on several lines is one comma-separated list (RFC 9110 §5.3); undefined when there is nothing. */
function joinLines (value: HeaderValue): string | undefined {
  if (value === undefined) return undefined
  const text = Array.isArray(value) ? value.join(',') : value
  return text === '' ? undefined : text
}

/** RFC 9110 §5.6.2 tchar, as a table by char code: cheaper than a regex test per character. */
const TCHAR = new Uint8Array(128)
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1

function isTchar (c: string | undefined): boolean {
  return c !== undefined && TCHAR[c.charCodeAt(0)] === 1
}

function isOws (c: string | undefined): boolean {
  return c === ' ' || c === '\t'
}

/**
 * The members of a directive list. A malformed member (no name, an unterminated quote, junk after the value) is
 * dropped up to the next comma outside quotes, and the rest of the list still counts (RFC 9110 §5.6.1: recipients
 * parse lists robustly; an unknown or broken directive is ignored, RFC 9111 §5.2.3).
 */
export function tokenizeDirectives (text: string): ListMember[] {
  const out: ListMember[] = []
  const n = text.length
  let i = 0
  while (i < n) {
    while (i < n && (text[i] === ',' || isOws(text[i]))) i++
    if (i >= n) break
    const start = i
    while (i < n && isTchar(text[i])) i++
    const name = text.slice(start, i).toLowerCase()
    let value: string | true = true
    let ok = name !== ''
    let j = i
    while (j < n && isOws(text[j])) j++
    if (ok && text[j] === '=') {
      j++
      while (j < n && isOws(text[j])) j++
      if (text[j] === '"') {
        const quoted = readQuoted(text, j)
        if (quoted === null) return out
        value = quoted.value
        j = quoted.end
      } else {
        const vs = j
        while (j < n && isTchar(text[j])) j++
        value = text.slice(vs, j)
        if (value === '') ok = false
      }
    }
    const targets: string[] = []
    while (ok) {
      while (j < n && isOws(text[j])) j++
      if (text[j] !== ';') break
      j++
      while (j < n && isOws(text[j])) j++
      const ts = j
      while (j < n && isTchar(text[j])) j++
      if (j === ts) ok = false
      else targets.push(text.slice(ts, j).toLowerCase())
    }
    while (j < n && isOws(text[j])) j++
    if (j < n && text[j] !== ',') ok = false
    if (ok) out.push({ name, value, targets })
    i = ok ? j : skipToComma(text, j)
  }
  return out
}

/** A quoted-string from its opening quote (RFC 9110 §5.6.4): the unescaped text and the index after it, or null. */
function readQuoted (text: string, open: number): { value: string, end: number } | null {
  let value = ''
  for (let k = open + 1; k < text.length; k++) {
    const c = text[k] as string
    if (c === '"') return { value, end: k + 1 }
    if (c === '\\') {
      k++
      if (k >= text.length) return null
      value += text[k] as string
    } else {
      value += c
    }
  }
  return null
}

function skipToComma (text: string, from: number): number {
  let k = from
  while (k < text.length && text[k] !== ',') {
    if (text[k] === '"') {
      const quoted = readQuoted(text, k)
      if (quoted === null) return text.length
      k = quoted.end
    } else {
      k++
    }
  }
  return k
}

/** RFC 9111 §1.2.2: delta-seconds past 2^31 are taken as 2^31. */
const MAX_DELTA_SECONDS = 2147483648

/** A delta-seconds argument (RFC 9111 §1.2.2): `1*DIGIT`, or undefined when absent or malformed. */
export function deltaSeconds (directives: Directives, name: string): number | undefined {
  const raw = directives.get(name)
  if (raw === undefined || raw === true || !/^\d+$/.test(raw)) return undefined
  return Math.min(Number(raw), MAX_DELTA_SECONDS)
}

/**
 * The field names a qualified `no-cache="…"` or `private="…"` lists (RFC 9111 §5.2.2.4, §5.2.2.7), lower-case;
 * null when the directive is absent or unqualified (then it applies to the whole response).
 */
export function qualifiedFields (directives: Directives, name: string): string[] | null {
  const raw = directives.get(name)
  if (raw === undefined || raw === true) return null
  const names: string[] = []
  for (const part of raw.split(',')) {
    const field = part.trim().toLowerCase()
    if (field !== '' && !names.includes(field)) names.push(field)
  }
  return names
}
