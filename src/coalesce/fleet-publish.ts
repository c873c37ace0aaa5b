/**
 * coalesce/fleet-publish: the proxy that won a key's lease and streams a large fill (origin/growing-fill.ts) also
 * publishes it in memcached while it arrives, so followers on other proxies answer from it at once instead of after
 * the whole object is stored (coalesce/fleet-follow.ts reads it; store/filling-record.ts says the layout). The record
 * goes first, then each chunk the moment the origin has sent all of its bytes.  [I/O: memcached through SideItems]
 *
 * The body is written once: the chunks are named as a stored entry's chunks are (store/chunk-codec.ts), and once the
 * body is whole the stored entry's head commits them (store/chunks.ts commit, mcrouter's BigValueRoute order: chunks
 * first, the head last), their lives stretched to the head's. What is published is noted on the growing body
 * (core/published-body.ts) for that commit: the chunks' version, size, count and the CRC-32 of what they hold. Small
 * answers (below STREAM_FROM_BYTES) never stream, so they cost nothing more.
 */
import { crc32 } from 'node:zlib'
import { GrowingBody, type BodyTap } from '../origin/growing-body.js'
import { notePublishing, type PublishedBody } from '../core/published-body.js'
import type { GrowingFill } from '../origin/growing-fill.js'
import { chunkCountOf, encodeFilling, FILLING_SUFFIX, fillChunkSuffix, markFailed, newFillVersion, type FillingRecord, type SideItems } from '../store/filling-record.js'

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
 * the record failed, so followers cut their clients off instead of waiting. Never rejects. What it wrote (null: not the
 * whole body) is noted on the body for the stored entry's commit (core/published-body.ts).
 */
export async function publishFill (
  side: SideItems, key: string, growing: GrowingFill, expirySeconds: number, onEvent: (event: FleetStreamEvent, bytes: number) => void
): Promise<void> {
  const body = growing.body
  if (!(body instanceof GrowingBody)) return
  let written: (result: PublishedBody | null) => void = noop
  notePublishing(body, new Promise((resolve) => { written = resolve }))
  try {
    written(await publish(side, key, body, growing, expirySeconds, onEvent))
  } finally {
    written(null)
  }
}

async function publish (
  side: SideItems, key: string, body: GrowingBody, growing: GrowingFill, expirySeconds: number, onEvent: (event: FleetStreamEvent, bytes: number) => void
): Promise<PublishedBody | null> {
  const version = newFillVersion()
  const sized = body.length >= 0
  // memcached may be run with items smaller than a chunk (-I is at least 1 KiB): the chunks are then that small.
  const chunkBytes = Math.min(FLEET_CHUNK_BYTES, side.valueBytes)
  const filling: FillingRecord = { state: 'filling', length: sized ? body.length : null, chunkBytes, version, head: growing.head, vary: growing.vary }
  const record = encodeFilling(filling)
  if (!await side.set(key, FILLING_SUFFIX, record, expirySeconds)) {
    onEvent('publish-failed', 0)
    return null
  }
  // Unsized: past its buffer the body is relayed, not kept; the tap holds the relayed bytes until they are written.
  const tap = sized ? null : body.openTap()
  try {
    return await publishChunks(side, key, body, tap, filling, record, expirySeconds, onEvent)
  } finally {
    if (tap !== null) body.closeTap(tap)
  }
}

async function publishChunks (
  side: SideItems, key: string, body: GrowingBody, tap: BodyTap | null, filling: FillingRecord, record: Buffer, expirySeconds: number,
  onEvent: (event: FleetStreamEvent, bytes: number) => void
): Promise<PublishedBody | null> {
  const { version, chunkBytes } = filling
  const sized = tap === null
  let next = 0
  let crc = 0
  for (;;) {
    // Unsized: the length is known once the origin's body ended; until then only whole chunks go out.
    const known = sized ? body.length : body.state === 'complete' ? body.filled : -1
    const count = known >= 0 ? chunkCountOf(known, chunkBytes) : Infinity
    if (next >= count) break
    await body.whenFilled(Math.min((next + 1) * chunkBytes, known >= 0 ? known : Infinity))
    // Past its buffer an unsized body is too large to store, and still relayed: followers relay it too, never keep it.
    if (body.state === 'failed' || tap?.cut === true) break
    const length = sized ? body.length : body.state === 'complete' ? body.filled : -1
    const whole = length >= 0 && body.filled === length ? chunkCountOf(length, chunkBytes) : Math.floor(body.filled / chunkBytes)
    const end = Math.min(whole, next + WINDOW)
    const writes: Array<Promise<boolean>> = []
    for (let i = next; i < end; i++) {
      const chunk = body.bytes(i * chunkBytes, Math.min((i + 1) * chunkBytes, body.filled))
      crc = crc32(chunk, crc)
      writes.push(side.set(key, fillChunkSuffix(version, i), chunk, expirySeconds))
    }
    if ((await Promise.all(writes)).includes(false)) break
    next = end
    if (tap !== null) body.passed(tap, Math.min(next * chunkBytes, body.filled))
  }
  const done = body.state !== 'failed' && tap?.cut !== true && next === chunkCountOf(sized ? body.length : body.filled, chunkBytes) &&
    (body.state === 'complete' || sized)
  // Every chunk is out: an unsized fill's record now names its length, which is how its followers know the end.
  if (done && (sized || await side.set(key, FILLING_SUFFIX, encodeFilling({ ...filling, length: body.filled }), expirySeconds))) {
    onEvent('published', body.filled)
    // A relayed body is never stored: nothing for a head to commit.
    return body.overflowed ? null : { key, version, chunkBytes, bodyBytes: body.filled, crc }
  }
  await side.set(key, FILLING_SUFFIX, markFailed(record), expirySeconds)
  onEvent('publish-failed', Math.min(next * chunkBytes, body.filled))
  return null
}

function noop (): void {}
