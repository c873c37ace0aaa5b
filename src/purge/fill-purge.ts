/**
 * purge/fill-purge: what a fill does for purges, resolved when the config loads. At store time it parses the tags
 * (and takes their headers out of the stored ones, so a hit writes nothing it must filter), stamps when the fill
 * asked the origin, and checks the purge records: a purge issued while the fill was in flight must not be undone by
 * the fill's store (the answer still goes to the request that asked before the purge).  [pure]
 */
import type { StoredEntry } from '../core/entry.js'
import type { HeaderRecord } from '../core/headers.js'
import type { EntryPurgeFields, FillPurgePort } from '../core/make-entry.js'
import { parseTags, type TagOptions } from './tags.js'
import type { BanList } from './bans.js'

export interface FillPurge extends FillPurgePort {
  readonly tags: TagOptions
  /** Headers a stored entry never keeps: corral's own, plus the tag headers when they are removed. */
  readonly dropHeaders: ReadonlySet<string>
  readonly bans: BanList
  /**
   * The longest an entry may stay in memcached: purge records live this long (cache.purge.recordTtlSeconds), and a
   * record must outlive every entry it could match, or a restarted proxy would serve that entry again.
   */
  readonly maxTtlMs: number
}

export function makeFillPurge (tags: TagOptions, bans: BanList, maxTtlMs: number, replaced: ReadonlySet<string>): FillPurge {
  const dropHeaders = new Set(replaced)
  if (tags.removeFromResponse) for (const name of tags.headers) dropHeaders.add(name)
  const purge: FillPurge = {
    tags,
    dropHeaders,
    bans,
    maxTtlMs,
    fieldsOf: (headers, requestedAt, previous) => entryPurgeFields(purge, headers, requestedAt, previous),
    screen: (entry, ttlMs) => screenForStore(purge, entry, ttlMs)
  }
  return purge
}

/**
 * The purge fields of an entry made from `headers`. A 304's merge keeps the replaced entry's tags unless the 304
 * names its own (RFC 9111 §4.3.4 updates only the fields it sends).
 */
export function entryPurgeFields (purge: FillPurge, headers: HeaderRecord, requestedAt: number, previous?: StoredEntry): EntryPurgeFields {
  const tags = parseTags(headers, purge.tags) ?? previous?.tags
  return { requestedAt, tags, dropHeaders: purge.dropHeaders }
}

/** The entry to store and for how long, or null when a purge issued since the fill asked the origin removed it. */
export function screenForStore (purge: FillPurge | undefined, entry: StoredEntry, ttlMs: number): { entry: StoredEntry, ttlMs: number } | null {
  if (purge === undefined) return { entry, ttlMs }
  const kept = purge.bans.screen(entry)
  return kept === undefined ? null : { entry: kept, ttlMs: Math.min(ttlMs, purge.maxTtlMs) }
}
