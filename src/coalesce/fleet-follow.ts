/**
 * coalesce/fleet-follow: a proxy that lost a key's lease, finding the winner's fill published while it arrives
 * (coalesce/fleet-publish.ts), answers from it at once: it reads the chunks from memcached as they appear into a
 * GrowingBody of its own, which its clients read exactly as they read a fill of this process (deliver-growing.ts).
 *   [I/O: memcached through SideItems]
 *
 * - Reads are pipelined, WINDOW chunk gets plus the record's in one batch on the node's connection; after a batch with
 *   no new chunk it waits, backing off from FIRST_POLL_MS to MAX_POLL_MS, and the whole follow is bounded by `deadlineMs`.
 * - An unsized fill past this process's cache.maxObjectBytes is relayed to its clients as the filling proxy relays it
 *   (growing-body.ts): not kept, read no more than a relay window ahead of the fastest client.
 * - A chunk is taken only in order and only at its exact length. Nothing more can come when the record is gone, marked
 *   failed or names another version, or memcached cannot be asked: the body fails, and every client's connection is
 *   reset before the declared length (GrowingBody.pipeTo), never ended as if whole.
 */
import { GrowingBody, RELAY_WINDOW_BYTES } from '../origin/growing-body.js'
import type { GrowingFill } from '../origin/growing-fill.js'
import type { StoredEntry, VaryIndex } from '../core/entry.js'
import { FleetStreamError } from '../core/errors.js'
import { chunkCountOf, decodeFilling, FILLING_SUFFIX, fillChunkSuffix, peekFilling, withBody, type FillingRecord, type SideItems } from '../store/filling-record.js'

const WINDOW = 8
const FIRST_POLL_MS = 5
const MAX_POLL_MS = 100

/** Where a fill is published and which of its variants this request may take. */
export interface FillingPlace {
  readonly side: SideItems
  /** The lease's key: the record and chunks live beside it. */
  readonly key: string
  readonly primaryKey: string
  /** The key this request's variant has under a Vary index (the primary key for null). */
  readonly keyFor: (vary: VaryIndex | null) => string
}

/** The record of a fill still arriving, for this request's variant; null when there is none (or it failed). */
export async function findFilling (place: FillingPlace): Promise<FillingRecord | null> {
  const item = await place.side.get(place.key, FILLING_SUFFIX)
  if (item === null || item === undefined) return null
  const record = decodeFilling(item, place.primaryKey, place.keyFor)
  return record?.state === 'filling' ? record : null
}

export interface Followed {
  readonly growing: GrowingFill
  /** The entry once its body is whole, or the error its clients were cut off with. Never rejects. */
  readonly done: Promise<StoredEntry | FleetStreamError>
}

/**
 * Starts reading the fill `record` names; its clients may join at once. An unsized one is read into a body reserved
 * at `capacity` bytes (this process's cache.maxObjectBytes).
 */
export function followFill (place: FillingPlace, record: FillingRecord, deadlineMs: number, now: () => number, capacity: number): Followed {
  const body = new GrowingBody(record.length, capacity)
  const growing: GrowingFill = { head: record.head, vary: record.vary, body, originMs: 0, stored: true, fleet: true }
  const done = feed(place, record, body, now() + deadlineMs, now).then((failure) => {
    if (failure === null && body.end()) {
      if (!body.overflowed) return withBody(record.head, body.whole())
      // Past this process's own bound (another proxy's cache.maxObjectBytes is larger): its clients got it whole, and
      // it is not kept for later ones.
      return new FleetStreamError('larger than cache.maxObjectBytes here: relayed, not kept')
    }
    const err = new FleetStreamError(failure ?? 'body did not end whole')
    body.fail(err)
    return err
  }, (err: unknown) => {
    const failure = new FleetStreamError(String(err))
    body.fail(failure)
    return failure
  })
  return { growing, done }
}

/** Appends every chunk in order; null when all came, else why not. */
async function feed (place: FillingPlace, record: FillingRecord, body: GrowingBody, deadline: number, now: () => number): Promise<string | null> {
  const { side, key } = place
  const { chunkBytes, version } = record
  // Unsized: learnt from the record, which the publisher writes again with the length once every chunk is written.
  let length = record.length
  let next = 0
  let delay = FIRST_POLL_MS
  for (;;) {
    const count = length === null ? Infinity : chunkCountOf(length, chunkBytes)
    if (next >= count) break
    if (now() >= deadline) return 'fill deadline passed'
    // Past this process's buffer the body is relayed to its clients, never kept: it runs no more than a relay window
    // ahead of the fastest (a client that far behind is cut off, growing-body.ts), so memory stays bounded.
    if (body.ahead > RELAY_WINDOW_BYTES) {
      await sleep(Math.max(1, Math.min(delay, deadline - now())))
      delay = Math.min(delay * 2, MAX_POLL_MS)
      continue
    }
    const gets: Array<Promise<Buffer | null | undefined>> = []
    for (let i = next; i < Math.min(count, next + WINDOW); i++) gets.push(side.get(key, fillChunkSuffix(version, i)))
    const state = side.get(key, FILLING_SUFFIX)
    const chunks = await Promise.all(gets)
    const stateItem = await state
    let progressed = false
    for (const chunk of chunks) {
      if (chunk === null || chunk === undefined) break
      const expected = length === null ? chunkBytes : next === count - 1 ? length - chunkBytes * (count - 1) : chunkBytes
      // Unsized, a chunk shorter than the rest can only be the last: the record's length will say.
      if (chunk.length !== expected && !(length === null && chunk.length < chunkBytes)) return `chunk ${next} has ${chunk.length} bytes`
      if (!body.append(chunk)) return 'body failed'
      next++
      progressed = true
      if (chunk.length < chunkBytes) break
    }
    const current = stateItem === null || stateItem === undefined ? undefined : peekFilling(stateItem)
    if (current !== undefined && current.version === version && length === null && current.length !== null) {
      length = current.length
      if (body.filled > length) return `${body.filled} bytes for a body of ${length}`
      continue
    }
    if (progressed) {
      delay = FIRST_POLL_MS
      continue
    }
    if (stateItem === undefined) return 'memcached did not answer'
    if (current === undefined) return 'the fill record is gone'
    if (current.version !== version) return 'another fill replaced it'
    if (current.state === 'failed') return 'the filling proxy failed it'
    await sleep(Math.max(1, Math.min(delay, deadline - now())))
    delay = Math.min(delay * 2, MAX_POLL_MS)
  }
  return body.filled === length ? null : `${body.filled} bytes for a body of ${String(length)}`
}
async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
