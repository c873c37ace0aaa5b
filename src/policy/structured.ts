/**
 * policy/structured: RFC 8941 Structured Field Dictionaries, the syntax RFC 9213 §2.1 gives targeted cache-control
 * fields (CDN-Cache-Control, Corral-Cache-Control). Strict as §4.2 requires: any error fails the whole field, and the
 * caller then ignores the field (RFC 9213 §2.1). Pure. Written here (about a hundred lines) rather than adding a
 * dependency for one field that is read once per origin response.
 */
import type { HeaderValue } from '../core/headers.js'

export type BareItem =
  | { readonly kind: 'integer' | 'decimal', readonly value: number }
  | { readonly kind: 'string' | 'token' | 'binary', readonly value: string }
  | { readonly kind: 'boolean', readonly value: boolean }

export type Parameters = ReadonlyMap<string, BareItem>

export type Member =
  | { readonly kind: 'item', readonly item: BareItem, readonly params: Parameters }
  | { readonly kind: 'inner-list', readonly items: ReadonlyArray<{ item: BareItem, params: Parameters }>, readonly params: Parameters }

export type Dictionary = ReadonlyMap<string, Member>

class ParseError extends Error {}

/** RFC 8941 §4.2 (several field lines joined with ", " first, §4.2): the dictionary, or null on any parse error. */
export function parseDictionary (value: HeaderValue): Dictionary | null {
  if (value === undefined) return null
  const text = Array.isArray(value) ? value.join(', ') : value
  try {
    return new Parser(text).dictionary()
  } catch (err) {
    if (err instanceof ParseError) return null
    throw err
  }
}

const KEY_FIRST = /[a-z*]/
const KEY_CHAR = /[a-z0-9_\-.*]/
const TOKEN_FIRST = /[A-Za-z*]/
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/
const BASE64 = /[A-Za-z0-9+/=]/

class Parser {
  #s: string
  #i = 0

  constructor (text: string) {
    this.#s = text
  }

  dictionary (): Dictionary {
    const out = new Map<string, Member>()
    this.#skip(' ')
    while (this.#i < this.#s.length) {
      const key = this.#key()
      let member: Member
      if (this.#peek() === '=') {
        this.#i++
        member = this.#member()
      } else {
        member = { kind: 'item', item: { kind: 'boolean', value: true }, params: this.#params() }
      }
      out.set(key, member)
      this.#ows()
      if (this.#i >= this.#s.length) return out
      if (this.#s[this.#i++] !== ',') throw new ParseError()
      this.#ows()
      if (this.#i >= this.#s.length) throw new ParseError()
    }
    return out
  }

  #peek (): string | undefined {
    return this.#s[this.#i]
  }

  #skip (c: string): void {
    while (this.#s[this.#i] === c) this.#i++
  }

  #ows (): void {
    while (this.#s[this.#i] === ' ' || this.#s[this.#i] === '\t') this.#i++
  }

  #key (): string {
    const start = this.#i
    if (!KEY_FIRST.test(this.#peek() ?? '')) throw new ParseError()
    while (KEY_CHAR.test(this.#peek() ?? '')) this.#i++
    return this.#s.slice(start, this.#i)
  }

  #member (): Member {
    if (this.#peek() !== '(') return { kind: 'item', item: this.#bare(), params: this.#params() }
    this.#i++
    const items: Array<{ item: BareItem, params: Parameters }> = []
    for (;;) {
      this.#skip(' ')
      if (this.#peek() === ')') {
        this.#i++
        return { kind: 'inner-list', items, params: this.#params() }
      }
      items.push({ item: this.#bare(), params: this.#params() })
      const c = this.#peek()
      if (c !== ' ' && c !== ')') throw new ParseError()
    }
  }

  #params (): Parameters {
    const out = new Map<string, BareItem>()
    while (this.#peek() === ';') {
      this.#i++
      this.#skip(' ')
      const key = this.#key()
      let value: BareItem = { kind: 'boolean', value: true }
      if (this.#peek() === '=') {
        this.#i++
        value = this.#bare()
      }
      out.set(key, value)
    }
    return out
  }

  #bare (): BareItem {
    const c = this.#peek()
    if (c === undefined) throw new ParseError()
    if (c === '-' || (c >= '0' && c <= '9')) return this.#number()
    if (c === '"') return this.#string()
    if (c === ':') return this.#binary()
    if (c === '?') return this.#boolean()
    if (TOKEN_FIRST.test(c)) return this.#token()
    throw new ParseError()
  }

  /** §4.2.4: at most 15 integer digits; a decimal has at most 12 before the point and 1 to 3 after. */
  #number (): BareItem {
    const m = /^-?(\d+)(\.(\d*))?/.exec(this.#s.slice(this.#i, this.#i + 20))
    if (m === null) throw new ParseError()
    const [whole, intPart = '', point, frac = ''] = m
    if (point === undefined) {
      if (intPart.length > 15) throw new ParseError()
      this.#i += whole.length
      return { kind: 'integer', value: Number(whole) }
    }
    if (intPart.length > 12 || frac.length < 1 || frac.length > 3) throw new ParseError()
    this.#i += whole.length
    return { kind: 'decimal', value: Number(whole) }
  }

  #string (): BareItem {
    let value = ''
    for (this.#i++; this.#i < this.#s.length; this.#i++) {
      const c = this.#s[this.#i] as string
      if (c === '"') {
        this.#i++
        return { kind: 'string', value }
      }
      if (c === '\\') {
        const next = this.#s[++this.#i]
        if (next !== '"' && next !== '\\') throw new ParseError()
        value += next
      } else {
        const code = c.charCodeAt(0)
        if (code < 0x20 || code > 0x7e) throw new ParseError()
        value += c
      }
    }
    throw new ParseError()
  }

  #token (): BareItem {
    const start = this.#i
    this.#i++
    while (TOKEN_CHAR.test(this.#peek() ?? '')) this.#i++
    return { kind: 'token', value: this.#s.slice(start, this.#i) }
  }

  #binary (): BareItem {
    const start = ++this.#i
    while (BASE64.test(this.#peek() ?? '')) this.#i++
    if (this.#peek() !== ':') throw new ParseError()
    const value = this.#s.slice(start, this.#i++)
    return { kind: 'binary', value }
  }

  #boolean (): BareItem {
    const c = this.#s[this.#i + 1]
    if (c !== '0' && c !== '1') throw new ParseError()
    this.#i += 2
    return { kind: 'boolean', value: c === '1' }
  }
}
