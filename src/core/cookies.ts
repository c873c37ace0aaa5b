/**
 * cookies: which request cookies count. cache.ignoredCookies names cookies (by pattern: `__utm*`) that the origin
 * never reads to build a page, in practice analytics cookies set by client-side scripts (`_ga`, `__utma`): they are
 * dropped from fills and do not make a request "with a cookie" (cache.requestCookies, credentials in
 * core/header-names.ts). Varnish users strip them in vcl_recv for the same reason: left in, every browser that ever
 * loaded Google Analytics looks like a logged-in user.  [pure]
 */
import type { HeaderValue } from './headers.js'

/** How request cookies are treated, resolved when the config loads. */
export interface CookieRules {
  /** cache.requestCookies `pass`: a request with a cookie that counts is passed to the origin, never cached. */
  readonly pass: boolean
  /** cache.ignoredCookies as one pattern; null: every cookie counts. */
  readonly ignored: RegExp | null
}

export function makeCookieRules (requestCookies: 'origin-decides' | 'pass', ignored: readonly string[]): CookieRules {
  return { pass: requestCookies === 'pass', ignored: ignored.length === 0 ? null : makeCookiePattern(ignored) }
}

/** `_ga`, `_ga_*`, `__utm*`: `*` matches any run of characters; everything else is literal. */
export function makeCookiePattern (names: readonly string[]): RegExp {
  const alternatives = names.map((name) => name.split('*').map(escapeRegExp).join('.*'))
  return new RegExp(`^(?:${alternatives.join('|')})$`)
}

function escapeRegExp (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * The Cookie value without the ignored cookies: the same string when none is ignored, undefined when none is left.
 * RFC 6265 §5.4: pairs are separated by `; `; a pair without `=` is kept as it is (a name of its own to some servers).
 */
export function withoutIgnoredCookies (value: HeaderValue, ignored: RegExp | null): string | undefined {
  if (value === undefined) return undefined
  const text = Array.isArray(value) ? value.join('; ') : value
  if (ignored === null) return text
  const pairs = text.split(';')
  const kept: string[] = []
  for (const pair of pairs) {
    const trimmed = pair.trim()
    if (trimmed === '') continue
    const eq = trimmed.indexOf('=')
    if (!ignored.test(eq === -1 ? trimmed : trimmed.slice(0, eq).trim())) kept.push(trimmed)
  }
  if (kept.length === pairs.length && !Array.isArray(value)) return value
  return kept.length === 0 ? undefined : kept.join('; ')
}

/** cache.requestCookies `pass`: does this Cookie value hold a cookie that counts? */
export function isPassedForCookie (value: HeaderValue, rules: CookieRules | undefined): boolean {
  if (rules === undefined || !rules.pass) return false
  return withoutIgnoredCookies(value, rules.ignored) !== undefined
}
