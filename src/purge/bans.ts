/**
 * purge/bans: invalidation records (Varnish's ban list) and what they do to an entry. memcached cannot list keys by tag
 * or prefix, so a purge is a record `{ kind, value, host, at, soft }`; an entry whose fill asked the origin before a
 * matching record's `at` is purged: hard, it is gone (a miss); soft, it is stale from `at` and servable stale for
 * `softStaleMs`, so the next request is answered at once while one coalesced refresh runs (docs/architecture.md, lessons: a delete
 * re-creates the herd). An entry that forbids stale (must-revalidate, no-cache) revalidates instead (policy/usable).
 *
 * Where records are checked (the cost: the design notes in README.md): never on a memory hit (a new record sweeps L1 once,
 * store/memory.ts sweep); on an entry read from memcached (purge/screened-store.ts) and before a fill stores (fill.ts),
 * against a few Map lookups: nothing when the entry was requested after the newest record.  [pure]
 */
import type { StoredEntry } from '../core/entry.js'
import { SeenNames } from './seen.js'
import { makeStale } from './stale.js'

export type BanKind = 'url' | 'tag' | 'prefix'

export interface BanRecord {
  readonly kind: BanKind
  /**
   * url: the primary cache key (its variants too); prefix: the key prefix (key host + path prefix); tag: the tag.
   * Keys and prefixes are built like a request's key (key.ts), so a record names what requests filed.
   */
  readonly value: string
  /** tag only: the key host the tag is limited to ('' = every host). */
  readonly host: string
  /** Epoch ms on the issuing proxy's clock (a fleet's clocks are assumed NTP-close: see README, Purge). */
  readonly at: number
  readonly soft: boolean
}

/** What a record does to one entry: nothing, drop it, or mark it stale as of `at`. */
export type BanVerdict = { readonly action: 'keep' } | { readonly action: 'drop' } | { readonly action: 'soften', readonly at: number }

const KEEP: BanVerdict = { action: 'keep' }
const DROP: BanVerdict = { action: 'drop' }

/** Does `record` name this entry? (Not: is the entry older; see isBanned.) */
export function recordMatches (record: BanRecord, entry: StoredEntry): boolean {
  switch (record.kind) {
    case 'url':
      // A variant's key is the primary key, a newline, the Vary epoch and values (key.ts makeVariantKey).
      return entry.key === record.value || (entry.key.charCodeAt(record.value.length) === NEWLINE && hasPrefix(entry.key, record.value))
    case 'prefix':
      return hasPrefix(entry.key, record.value)
    case 'tag':
      return entry.tags !== undefined && entry.tags.includes(record.value) &&
        (record.host === '' || (entry.key.charCodeAt(record.host.length) === SLASH && hasPrefix(entry.key, record.host)))
  }
}

const NEWLINE = 10
const SLASH = 47

/**
 * `s.startsWith(p)`, compared from the end: keys of one site share their host, so they differ last. node 20's
 * startsWith cost ~85 ns a call against ~19 ns for this loop (bench/purge.ts, 20 prefix records per memcached read).
 */
function hasPrefix (s: string, p: string): boolean {
  if (p.length > s.length) return false
  for (let i = p.length - 1; i >= 0; i--) if (s.charCodeAt(i) !== p.charCodeAt(i)) return false
  return true
}

/** When the entry's fill asked the origin: what a record's `at` is compared with. */
export function requestedAtOf (entry: StoredEntry): number {
  return entry.requestedAt ?? entry.storedAt
}

/** One record's verdict on one entry. */
export function judge (record: BanRecord, entry: StoredEntry): BanVerdict {
  if (requestedAtOf(entry) >= record.at || !recordMatches(record, entry)) return KEEP
  return record.soft ? { action: 'soften', at: record.at } : DROP
}

/**
 * The live records, indexed so that checking an entry costs a Map lookup per tag plus a scan of the prefix records
 * (operators issue few of those), and nothing at all for an entry requested after the newest record.
 */
export class BanList {
  readonly #urls = new Map<string, BanRecord[]>()
  readonly #tags = new Map<string, BanRecord[]>()
  #prefixes: BanRecord[] = []
  #newestAt = 0
  #size = 0
  softStaleMs: number
  /** Keys and tags stored lately, so a purge can say whether it named anything this proxy has seen. */
  readonly seen = new SeenNames()

  constructor (softStaleMs: number) {
    this.softStaleMs = softStaleMs
  }

  get size (): number {
    return this.#size
  }

  /** Every record in force, oldest first (GET /purges). */
  list (): BanRecord[] {
    const all = [...this.#prefixes]
    for (const records of this.#urls.values()) all.push(...records)
    for (const records of this.#tags.values()) all.push(...records)
    return all.sort((a, b) => a.at - b.at)
  }

  /**
   * A record already held is not added again: a cluster worker applies its primary's purge at once and then reads the
   * same record from memcached, and a new purge channel reads every live record again.
   */
  add (record: BanRecord): void {
    const list = record.kind === 'prefix' ? this.#prefixes : listOf(record.kind === 'url' ? this.#urls : this.#tags, record.value)
    if (list.some((r) => r.at === record.at && r.soft === record.soft && r.host === record.host && r.value === record.value)) return
    list.push(record)
    this.#size++
    if (record.at > this.#newestAt) this.#newestAt = record.at
  }

  /**
   * The entry as the records leave it: itself, undefined (hard-purged: a miss), or softened. A hard record beats a
   * soft one whichever came first: the operator asked for the page to be gone.
   */
  screen (entry: StoredEntry): StoredEntry | undefined {
    if (requestedAtOf(entry) >= this.#newestAt) return entry
    const primaryEnd = entry.key.indexOf('\n')
    let softAt = scan(this.#urls.get(primaryEnd === -1 ? entry.key : entry.key.slice(0, primaryEnd)), entry, 0)
    if (softAt === DROPPED) return undefined
    if (entry.tags !== undefined) {
      for (let i = 0; i < entry.tags.length; i++) {
        softAt = scan(this.#tags.get(entry.tags[i] as string), entry, softAt)
        if (softAt === DROPPED) return undefined
      }
    }
    softAt = scan(this.#prefixes, entry, softAt)
    if (softAt === DROPPED) return undefined
    return softAt === 0 ? entry : makeStale(entry, softAt, this.softStaleMs)
  }

  /** Forget records older than `before`: no entry they could match is still stored (see cache.purge.recordTtlSeconds). */
  expire (before: number): void {
    const keep = (r: BanRecord): boolean => r.at >= before
    for (const map of [this.#urls, this.#tags]) {
      for (const [value, records] of map) {
        const kept = records.filter(keep)
        if (kept.length === 0) map.delete(value)
        else map.set(value, kept)
      }
    }
    this.#prefixes = this.#prefixes.filter(keep)
    let size = this.#prefixes.length
    for (const records of this.#urls.values()) size += records.length
    for (const records of this.#tags.values()) size += records.length
    this.#size = size
  }
}

const DROPPED = -1

/** The latest soft record's time among `records` that purge `entry` (at least `softAt`), or DROPPED for a hard one. */
function scan (records: readonly BanRecord[] | undefined, entry: StoredEntry, softAt: number): number {
  if (records === undefined) return softAt
  const requestedAt = requestedAtOf(entry)
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as BanRecord
    if (requestedAt >= record.at || !recordMatches(record, entry)) continue
    if (!record.soft) return DROPPED
    if (record.at > softAt) softAt = record.at
  }
  return softAt
}

function listOf (map: Map<string, BanRecord[]>, value: string): BanRecord[] {
  let list = map.get(value)
  if (list === undefined) {
    list = []
    map.set(value, list)
  }
  return list
}

/** A record from the wire (memcached, IPC), or undefined when it is not one. */
export function parseBanRecord (value: unknown): BanRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const { kind, value: v, host, at, soft } = value as Record<string, unknown>
  if ((kind !== 'url' && kind !== 'tag' && kind !== 'prefix') || typeof v !== 'string' || typeof host !== 'string' ||
    typeof at !== 'number' || !Number.isFinite(at) || typeof soft !== 'boolean') return undefined
  return { kind, value: v, host, at, soft }
}
