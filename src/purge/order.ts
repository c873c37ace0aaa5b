/**
 * purge/order: what an operator asked for (`POST /purge?url= | ?tag= | ?prefix=&host=`, `&soft=1`), and the
 * invalidation records it becomes. Keys and prefixes are built the way a request's key is (key.ts), so a purge names
 * exactly what requests filed.  [pure]
 */
import { ConfigError } from '../core/errors.js'
import { HostNormalizer, resolveTarget, type KeyOptions } from '../key.js'
import { purgeKeyOf } from './invalidate.js'
import { splitTagList } from './tags.js'
import type { BanKind, BanRecord } from './bans.js'

export interface PurgeOrder {
  readonly kind: BanKind
  /** url: one absolute URL or path; tag: one or more tags; prefix: one path prefix. */
  readonly values: readonly string[]
  readonly host: string | undefined
  readonly soft: boolean
}

/** The admin answer (README, "Purge"): what was asked, how, and what is known of its reach. */
export interface PurgeReport {
  readonly purged: { readonly kind: BanKind, readonly values: readonly string[], readonly host: string | null }
  readonly mode: 'hard' | 'soft'
  /** Entries dropped or marked stale in this proxy's memory (every worker's, in a cluster). */
  readonly touched: number
  /** true: the records are in memcached, so every proxy sharing it applies them within a second. */
  readonly fleet: boolean
  /** url purges: the cache key purged. */
  readonly key?: string
  /**
   * Where the purge reached, said plainly: `touched` counts this proxy's memory only, and memcached cannot count what
   * a record will hide (each entry is checked against the records when it is read), so it says "unknown", not 0.
   */
  readonly reach?: PurgeReach
}

export interface PurgeReach {
  /** Entries dropped or marked stale in this proxy's memory (every worker's, in a cluster): `touched`. */
  readonly memory: number
  /** "unknown" with memcached (entries are screened when read), "off" without. */
  readonly memcached: 'unknown' | 'off'
  /** Records written to memcached for the rest of the fleet (0: none, the embedded cache or a failed write). */
  readonly recordsWritten: number
  /** Whether it named a key or tag this proxy stored lately (`seenScope` says which), so a typo shows. */
  readonly seenHere: boolean
  readonly seenScope: string
}

/** The order in an admin query string; throws a ConfigError naming the parameter when it is not one. */
export function parsePurgeQuery (params: URLSearchParams): PurgeOrder {
  const urls = params.getAll('url').filter((v) => v !== '')
  const tags = splitTagList(params.getAll('tag'))
  const prefixes = params.getAll('prefix').filter((v) => v !== '')
  const host = params.get('host') ?? undefined
  const soft = parseSoft(params.get('soft'))
  const asked = [urls.length > 0, tags.length > 0, prefixes.length > 0].filter(Boolean).length
  if (asked === 0) throw new ConfigError('url', 'missing ?url=<absolute url or path>, ?tag=<tag> or ?prefix=<path prefix>&host=<host>')
  if (asked > 1) throw new ConfigError('url', 'one kind per purge: ?url=, ?tag= or ?prefix=')
  if (urls.length > 1) throw new ConfigError('url', 'one ?url= per purge (tags name groups of pages)')
  if (prefixes.length > 1) throw new ConfigError('prefix', 'one ?prefix= per purge')
  if (urls.length === 1) return { kind: 'url', values: urls, host, soft }
  if (tags.length > 0) return { kind: 'tag', values: tags, host, soft }
  return { kind: 'prefix', values: prefixes, host, soft }
}

function parseSoft (value: string | null): boolean {
  if (value === null || value === '0' || value === 'false') return false
  if (value === '1' || value === 'true' || value === '') return true
  throw new ConfigError('soft', 'soft=1 (mark stale) or soft=0 (delete)')
}

/** The records an order becomes, stamped `at`; throws a ConfigError for a URL, prefix or host no request could name. */
export function makeBanRecords (order: PurgeOrder, options: KeyOptions, at: number): BanRecord[] {
  const { soft } = order
  switch (order.kind) {
    case 'url':
      return order.values.map((url) => ({ kind: 'url', value: purgeKeyOf(url, order.host, options), host: '', at, soft }))
    case 'tag': {
      const host = order.host === undefined || !options.includeHost ? '' : keyHostOf(order.host, options)
      return order.values.map((tag) => ({ kind: 'tag', value: tag, host, at, soft }))
    }
    case 'prefix':
      return order.values.map((prefix) => ({ kind: 'prefix', value: prefixKeyOf(prefix, order.host, options), host: '', at, soft }))
  }
}

/** A path prefix as keys spell it: key host + the path as resolveTarget normalises it. */
function prefixKeyOf (prefix: string, host: string | undefined, options: KeyOptions): string {
  if (!prefix.startsWith('/') || prefix.includes('?') || prefix.includes('#')) {
    throw new ConfigError('prefix', 'a path prefix starts with / and has no query (keys sort queries: a query prefix would not match)')
  }
  if (host === undefined && options.includeHost) throw new ConfigError('host', 'a prefix purge needs ?host=<host> (cache keys include the host)')
  const target = resolveTarget(prefix, host, options, new HostNormalizer())
  if (target === null) throw new ConfigError('host', 'not a valid host')
  return (options.includeHost ? target.keyHost : '') + target.path
}

function keyHostOf (host: string, options: KeyOptions): string {
  const target = resolveTarget('/', host, options, new HostNormalizer())
  if (target === null) throw new ConfigError('host', 'not a valid host')
  return target.keyHost
}
