/**
 * policy/compress: what a fill does with a storable body's content codings. Pure: headers and sizes in, a plan out.
 *
 * corral compresses once, when the page is filled, so a hit does no compression work (nginx compresses each answer
 * again; Varnish stores gzip only). RFC 9110 §7.7 and RFC 9111 §5.2.2.6: a response with `no-transform` is stored and
 * served exactly as the origin sent it, so decoding an origin's gzip for a client without gzip is a transformation too.
 */
import type { ContentCoding } from '../core/entry.js'
import { firstValue, joinValue, type HeaderRecord } from '../core/headers.js'
import { parseCacheControl } from './cache-control.js'

/** The cache.compress settings as the fill reads them, resolved when the config loads (compress/settings.ts). */
export interface CompressSettings {
  /** The codings made at fill time, in the order the runtime has them (zstd dropped where node:zlib lacks it). */
  readonly codings: readonly ContentCoding[]
  readonly isCompressibleType: (mediaType: string) => boolean
  readonly minBytes: number
  readonly maxBytes: number
  readonly brotliQuality: number
  readonly gzipLevel: number
  readonly zstdLevel: number
}

/** Why a body is stored as it came: the words metrics and the debug log show. */
export type KeepReason = 'no-transform' | 'encoded' | 'small' | 'large' | 'type'

export type BodyPlan =
  /** Store as today: one representation for everyone. */
  | { readonly kind: 'keep', readonly reason: KeepReason }
  /** Identity from the origin: make each of `codings`. */
  | { readonly kind: 'compress', readonly codings: readonly ContentCoding[] }
  /**
   * The origin sent `from`: kept as that coding's body, decoded once to identity (checking it is intact), and the other
   * `codings` made from the identity (empty when the type or size does not qualify). Nothing is encoded twice.
   */
  | { readonly kind: 'decode', readonly from: ContentCoding, readonly codings: readonly ContentCoding[] }

const NO_CODINGS: readonly ContentCoding[] = Object.freeze([])

export function planBody (headers: HeaderRecord, bodyBytes: number, s: CompressSettings): BodyPlan {
  const cc = joinValue(headers['cache-control'])
  if (cc !== undefined && parseCacheControl(cc).has('no-transform')) return KEEP['no-transform']
  const ce = (joinValue(headers['content-encoding']) ?? '').trim().toLowerCase()
  const qualifies = isCompressible(headers, bodyBytes, s)
  if (ce === '' || ce === 'identity') return qualifies === true ? { kind: 'compress', codings: s.codings } : KEEP[qualifies]
  const from = originCoding(ce, s)
  // Several codings, or one corral cannot decode (deflate, compress): stored and served as the origin sent it.
  if (from === null) return KEEP.encoded
  // The coded size stands in for the identity one: the decode is bounded by maxObjectBytes anyway (fill-compress.ts).
  return { kind: 'decode', from, codings: qualifies === true ? s.codings.filter((c) => c !== from) : NO_CODINGS }
}

function isCompressible (headers: HeaderRecord, bodyBytes: number, s: CompressSettings): true | 'small' | 'large' | 'type' {
  // Below about one packet a coding saves no round trip and costs the client a decoder (nginx's gzip_min_length idea).
  if (bodyBytes < s.minBytes) return 'small'
  if (bodyBytes > s.maxBytes) return 'large'
  const type = firstValue(headers['content-type'])
  if (type === undefined || !s.isCompressibleType(mediaTypeOf(type))) return 'type'
  return true
}

/** `text/html; charset=utf-8` → `text/html`. */
export function mediaTypeOf (contentType: string): string {
  const semi = contentType.indexOf(';')
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
}

/** `x-gzip` is gzip (RFC 9110 §8.4.1.3); zstd only where this runtime can decode it. */
function originCoding (ce: string, s: CompressSettings): ContentCoding | null {
  if (ce === 'gzip' || ce === 'x-gzip') return 'gzip'
  if (ce === 'br') return 'br'
  if (ce === 'zstd' && s.codings.includes('zstd')) return 'zstd'
  return null
}

const KEEP: { readonly [R in KeepReason]: BodyPlan } = {
  'no-transform': { kind: 'keep', reason: 'no-transform' },
  encoded: { kind: 'keep', reason: 'encoded' },
  small: { kind: 'keep', reason: 'small' },
  large: { kind: 'keep', reason: 'large' },
  type: { kind: 'keep', reason: 'type' }
}

/**
 * `cache.compress.types` → a matcher: `type/subtype` exactly, `type/*` for a whole type, `type/*+suffix` for a
 * structured syntax suffix (RFC 6838 §4.2.8: application/ld+json is JSON). Built once when the config loads.
 */
export function makeTypeMatcher (patterns: readonly string[]): (mediaType: string) => boolean {
  const exact = new Set<string>()
  const wholeTypes: string[] = []
  const suffixes: Array<[string, string]> = []
  for (const raw of patterns) {
    const p = raw.toLowerCase()
    const slash = p.indexOf('/')
    const sub = p.slice(slash + 1)
    if (sub === '*') wholeTypes.push(p.slice(0, slash + 1))
    else if (sub.startsWith('*+')) suffixes.push([p.slice(0, slash + 1), sub.slice(1)])
    else exact.add(p)
  }
  return (mediaType) => {
    if (exact.has(mediaType)) return true
    for (const t of wholeTypes) if (mediaType.startsWith(t)) return true
    for (const [t, suffix] of suffixes) if (mediaType.startsWith(t) && mediaType.endsWith(suffix)) return true
    return false
  }
}

/**
 * The origin's Vary names without Accept-Encoding: an entry corral negotiates itself serves every Accept-Encoding
 * from one copy, so keying it by the client's value would store the same page once per browser family.
 */
export function withoutAcceptEncoding (names: string[] | null): string[] | null {
  if (names === null || !names.includes('accept-encoding')) return names
  const rest = names.filter((n) => n !== 'accept-encoding')
  return rest.length === 0 ? null : rest
}
