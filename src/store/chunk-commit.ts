/**
 * store/chunk-commit: storing an entry whose body a streaming fill already wrote to memcached as chunks while it
 * arrived (coalesce/fleet-publish.ts, noted in core/published-body.ts): the head commits those chunks (chunks.ts
 * commit) instead of the body being written a second time. A 50 MB object cost 100 MB of memcached writes before.
 *
 * Integrity, as for any chunked value: the chunks carry the fill's random version, which only this head names, so a
 * purge (the head is then not written, or written softened) or another fill of the key (its own version) never makes
 * a head point at chunks of another body; the head holds the body's length, chunk count and CRC-32, checked on a whole
 * read; a chunk gone by the commit fails it, and the entry is written whole instead.  [I/O through ChunkedItems]
 */
import type { StoredEntry } from '../core/entry.js'
import type { PublishedBody } from '../core/published-body.js'
import { encodeRecordPrefix } from './chunk-meta.js'
import type { ChunkedItems } from './chunks.js'

/**
 * true when `entry` is stored under `itemKey` by committing `published` (null: the fill did not write every chunk);
 * false when the caller must write it whole (also when the record fits `oneItemBytes`, one memcached item). `keys` names the item key of the cache key the chunks were written beside
 * (the fill's lease key, whose node holds them even when the entry is a variant stored under another key).
 */
export async function commitPublished (
  chunks: ChunkedItems, keys: { itemKey (key: string): string }, itemKey: string, entry: StoredEntry, published: PublishedBody | null, ttlMs: number,
  oneItemBytes: number
): Promise<boolean> {
  if (published === null || published.bodyBytes !== entry.body.length) return false
  const prefix = encodeRecordPrefix(entry)
  // One item holds it: one get answers it (and the record memo keeps it decoded), worth a second write of under 1 MB.
  if (prefix === undefined || prefix.length + entry.body.length <= oneItemBytes) return false
  return await chunks.commit(itemKey, keys.itemKey(published.key), prefix, published, ttlMs) === 'stored'
}
