/**
 * A body a streaming fill already wrote as chunks (coalesce/fleet-publish.ts) is committed by the stored entry's head
 * (store/chunk-commit.ts), against a real memcached: the chunks get the head's lifetime, the head names them, and a
 * chunk gone before the commit means the entry is written whole instead, never a head naming a hole. And a full read
 * of a chunked entry streamed as its chunks arrive (store/chunk-stream.ts), for a head of either format.
 */
import { crc32 } from 'node:zlib'
import memjs from 'memjs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { decodeHead, type ChunkHead } from '../../src/store/chunk-codec.js'
import type { ChunkEvent } from '../../src/store/chunks.js'
import { MemcachedStore, memcachedKey } from '../../src/store/memcached.js'
import { fillChunkSuffix, newFillVersion } from '../../src/store/filling-record.js'
import { notePublishing, type PublishedBody } from '../../src/core/published-body.js'
import type { StoredEntry } from '../../src/store/types.js'
import { partOf } from '../../src/store/entry-part.js'
import { memcachedText } from '../helpers/memcached-text.js'
import { makeEntry, uniqueKey } from './records.js'

const address = inject('memcached')
const ONE_MB = 1024 * 1024
const CHUNK = 64 * 1024

function bigEntry (key: string, bytes: number): StoredEntry {
  const b = Buffer.allocUnsafe(bytes)
  for (let i = 0; i < bytes; i++) b[i] = (i * 131 + 5) & 0xff
  return makeEntry(key, { body: b, headers: ['content-type', 'video/mp4', 'content-length', String(b.length)] })
}

function storeOn (server: string, prefix: string, events: ChunkEvent[]): MemcachedStore {
  return new MemcachedStore({ servers: [server], timeoutMs: 500, retryDownMs: 60_000, prefix, maxItemBytes: ONE_MB, onChunks: event => events.push(event) })
}

/** What a streaming fill does: the body's chunks beside `key`, with a short life, noted on the body. */
async function publish (store: MemcachedStore, key: string, body: Buffer, expirySeconds: number): Promise<PublishedBody> {
  const version = newFillVersion()
  for (let i = 0; i * CHUNK < body.length; i++) {
    expect(await store.side.set(key, fillChunkSuffix(version, i), body.subarray(i * CHUNK, (i + 1) * CHUNK), expirySeconds)).toBe(true)
  }
  const published = { key, version, chunkBytes: CHUNK, bodyBytes: body.length, crc: crc32(body) }
  notePublishing(body, Promise.resolve(published))
  return published
}

/** Seconds memcached says an item has left to live (meta get, memcached 1.6). */
async function ttlOf (server: string, itemKey: string): Promise<number> {
  const text = await memcachedText(server, `mg ${itemKey} t`, t => t.endsWith('\r\n'))
  const m = /\bt(-?\d+)/.exec(text)
  if (m === null) throw new Error(`no ttl in ${text}`)
  return Number(m[1])
}

describe.skipIf(address === null)('a streaming fill\'s chunks committed by the stored head', () => {
  const server = address as string
  let client: memjs.Client
  beforeAll(() => { client = memjs.Client.create(server, { retries: 0, logger: { log () {} } }) })
  afterAll(() => { client.close() })

  it('writes only the head, stretches the chunks\' lives to the head\'s, and another store reads the entry whole', async () => {
    const prefix = `cc${Math.random().toString(36).slice(2, 8)}:`
    const events: ChunkEvent[] = []
    const writer = storeOn(server, prefix, events)
    const reader = storeOn(server, prefix, [])
    try {
      const key = uniqueKey('committed')
      const entry = bigEntry(key, 2.5 * ONE_MB)
      const published = await publish(writer, key, entry.body, 30)
      await writer.set(key, entry, 3_600_000)
      expect(events).toEqual(['committed'])
      const itemKey = memcachedKey(prefix, key)
      const head = decodeHead((await client.get(itemKey)).value as Buffer) as ChunkHead
      expect(head.version).toBe(published.version)
      expect(head.committed?.chunksBeside).toBe(itemKey)
      expect(head.chunkCount).toBe(40)
      // Written with 30 s, now at least the head's hour.
      expect(await ttlOf(server, `${itemKey}${fillChunkSuffix(published.version, 39)}`)).toBeGreaterThan(3500)
      const got = await reader.get(key)
      expect(got?.kind === 'entry' && got.body.equals(entry.body)).toBe(true)
      expect(got?.kind === 'entry' && got.headers).toEqual(entry.headers)
    } finally {
      await writer.close()
      await reader.close()
    }
  })

  it('a chunk gone before the commit: the entry is written whole under chunks of its own', async () => {
    const prefix = `cc${Math.random().toString(36).slice(2, 8)}:`
    const events: ChunkEvent[] = []
    const store = storeOn(server, prefix, events)
    try {
      const key = uniqueKey('hole')
      const entry = bigEntry(key, 1.5 * ONE_MB)
      const published = await publish(store, key, entry.body, 30)
      const itemKey = memcachedKey(prefix, key)
      await client.delete(`${itemKey}${fillChunkSuffix(published.version, 7)}`)
      await store.set(key, entry, 60_000)
      expect(events).toEqual(['stored'])
      const head = decodeHead((await client.get(itemKey)).value as Buffer) as ChunkHead
      expect(head.committed).toBeNull()
      expect(head.version).not.toBe(published.version)
      const got = await store.get(key)
      expect(got?.kind === 'entry' && got.body.equals(entry.body)).toBe(true)
    } finally {
      await store.close()
    }
  })

  it('a body the fill could not publish whole (null) is written whole', async () => {
    const prefix = `cc${Math.random().toString(36).slice(2, 8)}:`
    const events: ChunkEvent[] = []
    const store = storeOn(server, prefix, events)
    try {
      const key = uniqueKey('unpublished')
      const entry = bigEntry(key, 1.5 * ONE_MB)
      notePublishing(entry.body, Promise.resolve(null))
      await store.set(key, entry, 60_000)
      expect(events).toEqual(['stored'])
      const got = await store.get(key)
      expect(got?.kind === 'entry' && got.body.equals(entry.body)).toBe(true)
    } finally {
      await store.close()
    }
  })
})

describe.skipIf(address === null)('a full read streamed from chunks (store/chunk-stream.ts)', () => {
  const server = address as string

  it('streams a head whose chunks hold the whole record: the body bytes alone, the last after the CRC', async () => {
    const prefix = `cs${Math.random().toString(36).slice(2, 8)}:`
    const writer = storeOn(server, prefix, [])
    const reader = storeOn(server, prefix, [])
    try {
      const key = uniqueKey('format1')
      const entry = bigEntry(key, 2.5 * ONE_MB)
      await writer.set(key, entry, 60_000)
      const part = await reader.lookupStream(key, () => ({ kind: 'stream' }))
      if (part === null) throw new Error('expected a streamed part')
      const rest = partOf(part)?.rest
      if (rest === undefined || rest === null) throw new Error('expected a part with a rest')
      const pieces: Buffer[] = []
      for (let next = await rest.next(); next !== undefined; next = await rest.next()) {
        if (typeof next === 'string') throw new Error(next)
        pieces.push(next)
      }
      expect(Buffer.concat(pieces).equals(entry.body)).toBe(true)
      expect(part.headers).toEqual(entry.headers)
      // Not fresh, a Range, or anything else the pick does not stream: read whole with `get`.
      expect(await reader.lookupStream(key, () => ({ kind: 'whole' }))).toBeNull()
    } finally {
      await writer.close()
      await reader.close()
    }
  })
})
