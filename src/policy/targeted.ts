/**
 * policy/targeted: which cache directives govern corral's own caching of a response. corral is the surrogate in
 * front of the app, so the app may tell it "60 s here" while browsers get `no-store`: a targeted field wins over
 * Cache-Control (RFC 9213 §2.2), in the operator's order of precedence, and the client still gets the origin's
 * Cache-Control unchanged. Pure; the target list is resolved when the config loads (makeTargetList).
 */
import { SURROGATE_DEVICE } from '../core/surrogate.js'
import type { HeaderRecord } from '../core/headers.js'
import { parseCacheControl, tokenizeDirectives, type Directives } from './cache-control.js'
import { parseDictionary } from './structured.js'

/** The default target list, most specific first (README, HTTP caching rules: origin-to-corral headers). */
export const DEFAULT_TARGETED_FIELDS: readonly string[] = ['corral-cache-control', 'cdn-cache-control', 'surrogate-control']

export { SURROGATE_CAPABILITY, SURROGATE_DEVICE } from '../core/surrogate.js'

const SURROGATE_CONTROL = 'surrogate-control'
const CDN_CACHE_CONTROL = 'cdn-cache-control'

/**
 * The target list as decideStorable reads it: lower-case, duplicates dropped. Call when the config loads.
 * `surrogate-control` is read with the Edge Architecture syntax; every other name as an RFC 9213 targeted field.
 */
export function makeTargetList (names: readonly string[]): readonly string[] {
  const out: string[] = []
  for (const name of names) {
    const lower = name.trim().toLowerCase()
    if (lower !== '' && !out.includes(lower)) out.push(lower)
  }
  return out
}

/**
 * Response fields removed before delivery, for a target list: Surrogate-Control is addressed to surrogates (Edge
 * Architecture §3: "MUST be removed"), and corral's own field to corral. CDN-Cache-Control is forwarded: RFC 9213 §3
 * says a CDN cache "will typically forward" it so downstream CDNs can use it, and corral is often behind one.
 */
export function fieldsRemovedBeforeDelivery (targetList: readonly string[]): ReadonlySet<string> {
  const out = new Set<string>([SURROGATE_CONTROL])
  for (const name of targetList) if (name !== CDN_CACHE_CONTROL) out.add(name)
  return out
}

/** With the default target list: `corral-cache-control` and `surrogate-control`. */
export const REMOVED_BEFORE_DELIVERY: ReadonlySet<string> = fieldsRemovedBeforeDelivery(DEFAULT_TARGETED_FIELDS)

export interface SelectedDirectives {
  /** The field whose directives govern: 'cache-control' when no targeted field was usable. */
  readonly source: string
  readonly directives: Directives
}

/**
 * RFC 9213 §2.2: the first field of the target list with a valid, non-empty value governs, and then Cache-Control
 * and Expires are ignored (the caller skips Expires when `source` is not 'cache-control'); otherwise Cache-Control.
 */
export function selectDirectives (headers: HeaderRecord, targetList: readonly string[]): SelectedDirectives {
  for (const name of targetList) {
    const value = headers[name]
    if (value === undefined) continue
    const directives = name === SURROGATE_CONTROL ? parseSurrogateControl(value) : parseTargeted(value)
    if (directives !== null) return { source: name, directives }
  }
  return { source: 'cache-control', directives: parseCacheControl(headers['cache-control']) }
}

/**
 * RFC 9213 §2.1: a Structured Field Dictionary; a parse error or an empty field means "not present". Members map
 * onto Cache-Control arguments: Boolean true → no argument, false → absent, Integer and String and Token → the text;
 * Decimals are kept as text so deltaSeconds refuses them (§2.1: "SHOULD NOT consume" a coerced max-age); inner
 * lists and byte sequences name no cache directive and are dropped. Parameters are ignored (§2.1).
 */
export function parseTargeted (value: string | string[]): Directives | null {
  const dict = parseDictionary(value)
  if (dict === null || dict.size === 0) return null
  const out = new Map<string, string | true>()
  for (const [name, member] of dict) {
    if (member.kind !== 'item') continue
    const { item } = member
    switch (item.kind) {
      case 'boolean':
        if (item.value) out.set(name, true)
        break
      case 'integer':
      case 'decimal':
        out.set(name, String(item.value))
        break
      case 'string':
      case 'token':
        out.set(name, item.value)
        break
      case 'binary':
        break
    }
  }
  return out
}

/**
 * W3C Edge Architecture 1.0 Surrogate-Control: `directive[;device]`, comma-separated. A directive without a device
 * applies to every surrogate; one with `;corral` applies to corral and overrides the untargeted one; other devices'
 * are ignored. `max-age=N+M` is N seconds fresh, then M more in which a stale copy may stand in for an origin error
 * (mapped to stale-if-error). `no-store-remote` is for surrogates far from the origin, which corral is not: ignored.
 * null when nothing in it is addressed to corral, so the next field of the target list decides.
 */
export function parseSurrogateControl (value: string | string[]): Directives | null {
  const text = Array.isArray(value) ? value.join(',') : value
  const general = new Map<string, string | true>()
  const mine = new Map<string, string | true>()
  for (const member of tokenizeDirectives(text)) {
    if (member.name === 'no-store-remote' || member.name === 'content') continue
    const into = member.targets.length === 0 ? general : member.targets.includes(SURROGATE_DEVICE) ? mine : null
    if (into === null || into.has(member.name)) continue
    into.set(member.name, member.value)
  }
  for (const [name, v] of mine) general.set(name, v)
  if (general.size === 0) return null
  const maxAge = general.get('max-age')
  const plus = typeof maxAge === 'string' ? /^(\d+)\+(\d+)$/.exec(maxAge) : null
  if (plus !== null) {
    general.set('max-age', plus[1] as string)
    if (!general.has('stale-if-error')) general.set('stale-if-error', plus[2] as string)
  }
  return general
}
