/**
 * coalesce/fleet-follow against the real memcached: a follower takes a published fill's chunks in order and at their
 * exact length, and ends only when the body is whole; anything else fails the body (its clients are cut off) with
 * CORRAL_ERR_FLEET_STREAM. The records and chunks are written here as a filling proxy would (fleet-publish.ts).
 */
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { MemcachedStore } from '../../src/store/memcached.js'
import { makeEntry } from '../../src/core/make-entry.js'
import { CorralError } from '../../src/core/errors.js'
import { encodeFilling, FILLING_SUFFIX, fillChunkSuffix, markFailed, newFillVersion, type FillingRecord } from '../../src/store/filling-record.js'
import { findFilling, followFill, type FillingPlace } from '../../src/coalesce/fleet-follow.js'
import type { GrowingBody } from '../../src/origin/growing-body.js'

const address = inject('memcached')
const CHUNK = 1000
const DEADLINES = { storedAt: Date.now(), initialAgeSeconds: 0, freshUntil: Date.now() + 60_000, staleWhileRevalidateUntil: Date.now() + 60_000, staleIfErrorUntil: Date.now() + 60_000, mustRevalidate: false }

describe.skipIf(address === null)('coalesce/fleet-follow: reading another proxy\'s fill as it arrives', () => {
  const store = address === null
    ? null
    : new MemcachedStore({ servers: [address], timeoutMs: 1000, retryDownMs: 1000, prefix: `ff${randomBytes(3).toString('hex')}:`, maxItemBytes: 1024 * 1024 })
  afterAll(async () => { await store?.close() })

  async function publish (key: string, length: number | null): Promise<{ record: FillingRecord, encoded: Buffer, place: FillingPlace }> {
    const side = (store as MemcachedStore).side
    const head = makeEntry(key, 200, { 'content-type': 'video/mp4' }, Buffer.alloc(0), DEADLINES)
    const record: FillingRecord = { state: 'filling', length, chunkBytes: CHUNK, version: newFillVersion(), head, vary: null }
    const encoded = encodeFilling(record)
    expect(await side.set(key, FILLING_SUFFIX, encoded, 60)).toBe(true)
    return { record, encoded, place: { side, key, primaryKey: key, keyFor: () => key } }
  }

  async function chunk (place: FillingPlace, record: FillingRecord, i: number, bytes: Buffer): Promise<void> {
    expect(await place.side.set(place.key, fillChunkSuffix(record.version, i), bytes, 60)).toBe(true)
  }

  it('takes the chunks as they appear and ends with the whole entry', async () => {
    const { record, place } = await publish('h/whole', 2500)
    const found = await findFilling(place)
    expect(found?.version).toBe(record.version)
    const followed = followFill(place, found as FillingRecord, 5000, Date.now, 0)
    await chunk(place, record, 0, Buffer.alloc(CHUNK, 1))
    await chunk(place, record, 1, Buffer.alloc(CHUNK, 2))
    await chunk(place, record, 2, Buffer.alloc(500, 3))
    const done = await followed.done
    expect(done).not.toBeInstanceOf(CorralError)
    if (done instanceof CorralError) return
    expect(done.body.length).toBe(2500)
    expect(done.body[2499]).toBe(3)
    expect(done.headers[done.headers.indexOf('content-length') + 1]).toBe('2500')
  })

  it('a chunk of the wrong length fails the body, never passes it on', async () => {
    const { record, place } = await publish('h/short', 2500)
    await chunk(place, record, 0, Buffer.alloc(CHUNK - 1))
    const followed = followFill(place, record, 5000, Date.now, 0)
    const done = await followed.done
    expect(done).toBeInstanceOf(CorralError)
    expect((done as CorralError).code).toBe('CORRAL_ERR_FLEET_STREAM')
    expect(followed.growing.body.canJoin(0)).toBe(false)
  })

  it('a record marked failed, or gone, fails the follower', async () => {
    const failed = await publish('h/failed', 2500)
    const one = followFill(failed.place, failed.record, 5000, Date.now, 0)
    await failed.place.side.set('h/failed', FILLING_SUFFIX, markFailed(failed.encoded), 60)
    expect(((await one.done) as CorralError).message).toContain('failed it')
    const gone = await publish('h/gone', 2500)
    const two = followFill(gone.place, gone.record, 5000, Date.now, 0)
    await (store as MemcachedStore).side.set('h/gone', FILLING_SUFFIX, Buffer.from('x'), 60)
    expect(((await two.done) as CorralError).message).toContain('gone')
  })

  it('past its deadline a follow that gets nothing new fails', async () => {
    const { record, place } = await publish('h/slow', 2500)
    await chunk(place, record, 0, Buffer.alloc(CHUNK))
    const followed = followFill(place, record, 50, Date.now, 0)
    expect(((await followed.done) as CorralError).message).toContain('deadline')
  })

  it('an unsized fill ends once the record names its length, and not before', async () => {
    const { record, place } = await publish('h/unsized', null)
    const followed = followFill(place, (await findFilling(place)) as FillingRecord, 5000, Date.now, 10_000)
    expect(followed.growing.body.length).toBe(-1)
    await chunk(place, record, 0, Buffer.alloc(CHUNK, 1))
    await chunk(place, record, 1, Buffer.alloc(300, 2))
    // Every byte is there, the short chunk too: still open, as the length is not known yet.
    const body = followed.growing.body as GrowingBody
    await expect.poll(() => body.filled).toBe(1300)
    expect(body.state).toBe('open')
    await place.side.set('h/unsized', FILLING_SUFFIX, encodeFilling({ ...record, length: 1300 }), 60)
    const done = await followed.done
    expect(done).not.toBeInstanceOf(CorralError)
    if (!(done instanceof CorralError)) expect(done.body.length).toBe(1300)
  })

  it('an unsized fill past this process\'s bound is relayed to its end but never handed on as an entry', async () => {
    const { record, place } = await publish('h/bigger', null)
    const followed = followFill(place, record, 5000, Date.now, 1500)
    await chunk(place, record, 0, Buffer.alloc(CHUNK, 1))
    await chunk(place, record, 1, Buffer.alloc(CHUNK, 2))
    await chunk(place, record, 2, Buffer.alloc(300, 3))
    await place.side.set('h/bigger', FILLING_SUFFIX, encodeFilling({ ...record, length: 2300 }), 60)
    const done = await followed.done
    expect(done).toBeInstanceOf(CorralError)
    expect((done as CorralError).message).toContain('not kept')
    // Its clients read it to the end: complete, not failed.
    expect((followed.growing.body as GrowingBody).state).toBe('complete')
  })
})
