/**
 * coalesce/fleet-publish: the proxy that won a key's lease and streams a large fill (origin/growing-fill.ts) also
 * publishes it in memcached while it arrives, so followers on other proxies answer from it at once instead of after
 * the whole object is stored (coalesce/fleet-follow.ts reads it; store/filling-record.ts says the layout). The record
 * goes first, then each chunk the moment the origin has sent all of its bytes.  [I/O: memcached through SideItems]
 *
 * What it costs: a large fill is written to memcached twice, these short-lived chunks while it arrives and the stored
 * entry's own chunks once it is whole (store/chunks.ts), which a follower then reads as any hit does. Small answers
 * (below STREAM_FROM_BYTES) never stream, so they cost nothing more.
 */
import { GrowingBody } from '../origin/growing-body.js'
import type { GrowingFill } from '../origin/growing-fill.js'
import { chunkCountOf, encodeFilling, FILLING_SUFFIX, fillChunkSuffix, markFailed, newFillVersion, type SideItems } from '../store/filling-record.js'

/**
 * A follower's first byte waits for the first whole chunk: 64 KiB (the smallest body that streams at all) is one
 * read from memcached on loopback, and about 80 items for a 5 MB object, well within what one node answers per ms.
 */
export const FLEET_CHUNK_BYTES = 64 * 1024
/** Chunk writes in flight at once: memjs pipelines them on the node's one connection. */
const WINDOW = 8

/** For /metrics: a fill published whole or not, a follower that streamed one to its end or was cut off. */
export type FleetStreamEvent = 'published' | 'publish-failed' | 'followed' | 'follow-failed'

/**
 * Publishes `growing` under `key` (the lease's) until its body is whole; on a failed body or a failed write it marks
 * the record failed, so followers cut their clients off instead of waiting. Never rejects.
 */
export async function publishFill (
  side: SideItems, key: string, growing: GrowingFill, expirySeconds: number, onEvent: (event: FleetStreamEvent, bytes: number) => void
): Promise<void> {
  const body = growing.body
  // Unsized (no Content-Length): not published, its followers wait for the stored entry (the record names a length).
  if (!(body instanceof GrowingBody) || body.length < 0) return
  const version = newFillVersion()
  const record = encodeFilling({ state: 'filling', length: body.length, chunkBytes: FLEET_CHUNK_BYTES, version, head: growing.head, vary: growing.vary })
  if (!await side.set(key, FILLING_SUFFIX, record, expirySeconds)) {
    onEvent('publish-failed', 0)
    return
  }
  const count = chunkCountOf(body.length, FLEET_CHUNK_BYTES)
  let next = 0
  while (next < count) {
    await body.whenFilled(Math.min((next + 1) * FLEET_CHUNK_BYTES, body.length))
    if (body.state === 'failed') break
    const whole = body.filled === body.length ? count : Math.floor(body.filled / FLEET_CHUNK_BYTES)
    const end = Math.min(whole, next + WINDOW)
    const writes: Array<Promise<boolean>> = []
    for (let i = next; i < end; i++) {
      const chunk = body.buffer.subarray(i * FLEET_CHUNK_BYTES, Math.min((i + 1) * FLEET_CHUNK_BYTES, body.length))
      writes.push(side.set(key, fillChunkSuffix(version, i), chunk, expirySeconds))
    }
    if ((await Promise.all(writes)).includes(false)) break
    next = end
  }
  if (next === count) {
    onEvent('published', body.length)
    return
  }
  await side.set(key, FILLING_SUFFIX, markFailed(record), expirySeconds)
  onEvent('publish-failed', next * FLEET_CHUNK_BYTES)
}
