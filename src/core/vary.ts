/**
 * vary: how a Vary response field and the request fields it selects on are read, so spellings that mean the
 * same make one variant (RFC 9111 §4.1, https://www.rfc-editor.org/rfc/rfc9111#section-4.1).
 */
import { joinValue, type HeaderValue } from './headers.js'

/** Accept-Encoding as variant keys spell it, parsed by negotiator (accept-encoding.ts). */
export { normalizeAcceptEncoding } from './accept-encoding.js'

/**
 * Accept-Language (RFC 9110 §12.5.4) as variant keys spell it: ranges lower-cased, whitespace removed, duplicates
 * and `q=0` ranges dropped, ordered by weight (ties keep the client's order, which origins use to break them),
 * weights written the short way (`q=0.50` → `q=0.5`, `q=1` omitted). A malformed member is dropped.
 */
export function normalizeAcceptLanguage (value: HeaderValue): string {
  const text = joinValue(value)
  if (text === undefined || text === '') return ''
  // A browser repeats its Accept-Language on every request: a variant hit normalises it once per change of value.
  if (text === lastLanguage) return lastLanguageNormalized
  lastLanguageNormalized = foldAcceptLanguage(text)
  lastLanguage = text
  return lastLanguageNormalized
}

let lastLanguage: string | undefined
let lastLanguageNormalized = ''

function foldAcceptLanguage (text: string): string {
  const ranges: Array<{ tag: string, q: number, at: number }> = []
  const parts = text.split(',')
  for (let at = 0; at < parts.length; at++) {
    const [rawTag = '', ...params] = (parts[at] as string).split(';')
    const tag = rawTag.trim().toLowerCase()
    if (!/^(?:\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)$/.test(tag)) continue
    let q = 1
    let valid = true
    for (const param of params) {
      const m = /^\s*q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/i.exec(param)
      if (m === null) valid = false
      else q = Number(m[1])
    }
    if (!valid || q === 0 || ranges.some(r => r.tag === tag)) continue
    ranges.push({ tag, q, at })
  }
  ranges.sort((a, b) => b.q - a.q || a.at - b.at)
  return ranges.map(r => (r.q === 1 ? r.tag : `${r.tag};q=${r.q}`)).join(',')
}

/** `Vary` → lower-case header names; null when absent; ['*'] when it is `*`. */
export function parseVary (value: string | string[] | undefined): string[] | null {
  if (value === undefined) return null
  const text = Array.isArray(value) ? value.join(',') : value
  const names: string[] = []
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase()
    if (name !== '' && !names.includes(name)) names.push(name)
  }
  return names.length > 0 ? names : null
}
