/**
 * purge/tags: the origin's cache tags. `Surrogate-Key: article-123 front` (Fastly, space-separated) and
 * `Cache-Tag: article-123,front` (Cloudflare, comma-separated) name the groups a response belongs to, so one purge
 * can reach every page that shows article 123. Parsed once, when a response is stored; a hit never looks at them.  [pure]
 */
import type { HeaderRecord } from '../core/headers.js'

/** cache.tags, resolved when the config loads. */
export interface TagOptions {
  /** Lower-case header names read for tags, in order. */
  readonly headers: readonly string[]
  /** Take the tag headers out of the stored headers, so the client never sees them (README, "Purge"). */
  readonly removeFromResponse: boolean
}

export const DEFAULT_TAG_OPTIONS: TagOptions = { headers: ['surrogate-key', 'cache-tag'], removeFromResponse: true }

/**
 * Most tags one entry keeps, and the longest tag: a tag list rides in every memcached read of the entry, and an origin
 * that sends a tag per item on a long page (seen: thousands) would make each read carry kilobytes for nothing.
 */
export const MAX_TAGS = 256
export const MAX_TAG_LENGTH = 128

/**
 * The tags a response carries, de-duplicated, in order; undefined for none (an untagged entry carries no field).
 * Both separators are accepted in every header: a tag contains neither a space nor a comma in any of the three
 * conventions (Fastly, Cloudflare, Varnish xkey), so one rule reads them all.
 */
export function parseTags (headers: HeaderRecord, options: TagOptions): readonly string[] | undefined {
  let tags: string[] | undefined
  for (const name of options.headers) {
    const value = headers[name]
    if (value === undefined) continue
    for (const line of Array.isArray(value) ? value : [value]) {
      for (const tag of line.split(TAG_SEPARATORS)) {
        if (tag === '' || tag.length > MAX_TAG_LENGTH) continue
        tags ??= []
        if (tags.length < MAX_TAGS && !tags.includes(tag)) tags.push(tag)
      }
    }
  }
  return tags
}

const TAG_SEPARATORS = /[\s,]+/

/**
 * Tags named on a purge: repeatable and comma-separated (`?tag=a&tag=b,c`), spaces too, so an operator can paste a
 * Surrogate-Key value as it is.
 */
export function splitTagList (values: readonly string[]): string[] {
  const out: string[] = []
  for (const value of values) {
    for (const tag of value.split(TAG_SEPARATORS)) if (tag !== '' && !out.includes(tag)) out.push(tag)
  }
  return out
}
