import memjs from 'memjs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { chunkItemKey, decodeHead, type ChunkHead } from '../../src/store/chunk-codec.js'
import type { ChunkEvent } from '../../src/store/chunks.js'
import { MemcachedStore, memcachedKey, type MemcachedStoreOptions } from '../../src/store/memcached.js'
import type { StoredEntry } from '../../src/store/types.js'
import { startMemcached, type MemcachedProcess } from '../helpers/memcached.js'
import { makeEntry, uniqueKey } from './records.js'

const address = inject('memcached')
const ONE_MB = 1024 * 1024

function body (n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed) & 0xff
  return b
}

function bigEntry (key: string, bytes: number, seed = 1): StoredEntry {
  const b = body(bytes, seed)
  return makeEntry(key, { body: b, headers: ['content-type', 'video/mp4', 'content-length', String(b.length)] })
}

interface Harness {
  store: MemcachedStore
  events: Array<[ChunkEvent, number]>
  skips: string[]
  prefix: string
}

function harness (servers: string[], prefix = `c${Math.random().toString(36).slice(2, 8)}:`, overrides: Partial<MemcachedStoreOptions> = {}): Harness {
  const events: Array<[ChunkEvent, number]> = []
  const skips: string[] = []
  const store = new MemcachedStore({
    servers,
    timeoutMs: 500,
    retryDownMs: 60_000,
    prefix,
    maxItemBytes: ONE_MB,
    onChunks: (event, bytes) => events.push([event, bytes]),
    onSkip: reason => skips.push(reason),
    ...overrides
  })
  return { store, events, skips, prefix }
}

function raw (server: string): memjs.Client {
  return memjs.Client.create(server, { retries: 0, logger: { log () {} } })
}

/** Compared field by field: a failing toEqual on megabytes of Buffer spends minutes printing the diff. */
function expectSame (got: unknown, entry: StoredEntry): void {
  expect(got).toBeDefined()
  const { body: gotBody, ...gotMeta } = got as StoredEntry
  const { body: wantBody, ...wantMeta } = entry
  expect(gotMeta).toEqual(wantMeta)
  expect(gotBody.length).toBe(wantBody.length)
  expect(gotBody.equals(wantBody)).toBe(true)
}

async function headOf (client: memjs.Client, prefix: string, key: string): Promise<ChunkHead> {
  const { value } = await client.get(memcachedKey(prefix, key))
  const head = value === null ? undefined : decodeHead(value)
  if (head === undefined) throw new Error('no chunk head stored')
  return head
}

describe.skipIf(address === null)('values over one memcached item, as a head plus chunks', () => {
  const server = address as string
  let client: memjs.Client
  beforeAll(() => { client = raw(server) })
  afterAll(() => { client.close() })

  it('stores a 3.5 MB entry as chunks and reads it back whole from another store (another proxy)', async () => {
    const writer = harness([server])
    const reader = harness([server], writer.prefix)
    try {
      const key = uniqueKey('video')
      const entry = bigEntry(key, 3.5 * ONE_MB)
      await writer.store.set(key, entry, 60_000)
      expect(writer.skips).toEqual([])
      expect(writer.events.map(e => e[0])).toEqual(['stored'])
      const head = await headOf(client, writer.prefix, key)
      expect(head.chunkCount).toBe(4)
      const got = await reader.store.get(key)
      expectSame(got, entry)
      expect(reader.events.map(e => e[0])).toEqual(['read'])
      expectSame(await reader.store.lookup(key), entry)
    } finally {
      await writer.store.close()
      await reader.store.close()
    }
  })

  it('a single chunk evicted makes the whole entry a miss (never a short body), and a rewrite heals it', async () => {
    const { store, events, prefix } = harness([server])
    try {
      const key = uniqueKey('evict')
      await store.set(key, bigEntry(key, 2.5 * ONE_MB), 60_000)
      const head = await headOf(client, prefix, key)
      await client.delete(chunkItemKey(memcachedKey(prefix, key), head.version, 1))
      expect(await store.get(key)).toBeUndefined()
      expect(await store.lookup(key)).toBeUndefined()
      expect(events.filter(e => e[0] === 'torn')).toHaveLength(2)
      const again = bigEntry(key, 2.5 * ONE_MB, 9)
      await store.set(key, again, 60_000)
      expectSame(await store.get(key), again)
    } finally {
      await store.close()
    }
  })

  it('a chunk of the right length but other bytes is caught by the checksum', async () => {
    const { store, events, prefix } = harness([server])
    try {
      const key = uniqueKey('mixed')
      await store.set(key, bigEntry(key, 2.2 * ONE_MB), 60_000)
      const head = await headOf(client, prefix, key)
      const chunkKey = chunkItemKey(memcachedKey(prefix, key), head.version, 0)
      const { value } = await client.get(chunkKey)
      const swapped = Buffer.from(value as Buffer)
      swapped.writeUInt8((swapped.at(-1) as number) ^ 0xff, swapped.length - 1)
      await client.set(chunkKey, swapped, { expires: 60 })
      expect(await store.get(key)).toBeUndefined()
      expect(events.at(-1)?.[0]).toBe('torn')
    } finally {
      await store.close()
    }
  })

  it('a rewrite writes new chunks beside the old ones: the chunks a live head names are never overwritten', async () => {
    const { store, prefix } = harness([server])
    try {
      const key = uniqueKey('rewrite')
      const itemKey = memcachedKey(prefix, key)
      await store.set(key, bigEntry(key, 1.5 * ONE_MB, 1), 60_000)
      const first = await headOf(client, prefix, key)
      const firstChunk = (await client.get(chunkItemKey(itemKey, first.version, 0))).value as Buffer
      await store.set(key, bigEntry(key, 1.5 * ONE_MB, 2), 60_000)
      const second = await headOf(client, prefix, key)
      expect(second.version).not.toBe(first.version)
      const stillThere = (await client.get(chunkItemKey(itemKey, first.version, 0))).value as Buffer
      expect(stillThere.equals(firstChunk)).toBe(true)
      const got = await store.get(key)
      expect(got?.kind === 'entry' && got.body.equals(body(1.5 * ONE_MB, 2))).toBe(true)
    } finally {
      await store.close()
    }
  })

  it('many requests for one chunked entry at once cost one read of its chunks', async () => {
    const writer = harness([server])
    const reader = harness([server], writer.prefix)
    try {
      const key = uniqueKey('shared-read')
      await writer.store.set(key, bigEntry(key, 3 * ONE_MB), 60_000)
      const all = await Promise.all(Array.from({ length: 20 }, async () => await reader.store.get(key)))
      for (const got of all) expect(got?.kind === 'entry' && got.body.length).toBe(3 * ONE_MB)
      expect(reader.events.filter(e => e[0] === 'read')).toHaveLength(1)
    } finally {
      await writer.store.close()
      await reader.store.close()
    }
  })

  it('reads the chunks again only when the head names a new version, while this process still holds the body', async () => {
    const writer = harness([server])
    const reader = harness([server], writer.prefix)
    try {
      const key = uniqueKey('memo')
      await writer.store.set(key, bigEntry(key, 2 * ONE_MB, 1), 60_000)
      const first = await reader.store.get(key)
      const again = await reader.store.get(key)
      // One head read, no chunk read: the same body (held here, as L1 would hold it).
      expect(reader.events.filter(e => e[0] === 'read')).toHaveLength(1)
      expect(again?.kind === 'entry' && first?.kind === 'entry' && again.body === first.body).toBe(true)
      await writer.store.set(key, bigEntry(key, 2 * ONE_MB, 2), 60_000)
      const rewritten = await reader.store.get(key)
      expect(reader.events.filter(e => e[0] === 'read')).toHaveLength(2)
      expect(rewritten?.kind === 'entry' && rewritten.body.equals(body(2 * ONE_MB, 2))).toBe(true)
    } finally {
      await writer.store.close()
      await reader.store.close()
    }
  })

  it('writes no head when a chunk cannot be stored (chunks first, head last)', async () => {
    // The store believes items of 2 MB fit; memcached (-I 1m) refuses each chunk, so nothing may become visible.
    const { store, skips, events, prefix } = harness([server], undefined, { maxItemBytes: 2 * ONE_MB })
    try {
      const key = uniqueKey('refused')
      await store.set(key, bigEntry(key, 5 * ONE_MB), 60_000)
      expect(skips).toEqual([])
      expect(events.map(e => e[0])).toEqual(['write-failed'])
      expect((await client.get(memcachedKey(prefix, key))).value).toBeNull()
      expect(await store.get(key)).toBeUndefined()
    } finally {
      await store.close()
    }
  })
})

describe.skipIf(address === null)('chunks and memcached nodes', () => {
  let nodes: MemcachedProcess[] = []
  afterAll(async () => { await Promise.all(nodes.map(async n => await n.stop())) })

  it('keeps every chunk on the node that owns the head, so one node answers for the whole value', async () => {
    nodes = [await startMemcached(), await startMemcached()]
    const { store, prefix } = harness(nodes.map(n => n.address))
    const clients = nodes.map(n => raw(n.address))
    try {
      for (let k = 0; k < 4; k++) {
        const key = uniqueKey(`node${k}`)
        await store.set(key, bigEntry(key, 2.5 * ONE_MB), 60_000)
        const itemKey = memcachedKey(prefix, key)
        const owners = await Promise.all(clients.map(async c => (await c.get(itemKey)).value !== null))
        expect(owners.filter(Boolean)).toHaveLength(1)
        const owner = clients[owners.indexOf(true)] as memjs.Client
        const other = clients[owners.indexOf(false)] as memjs.Client
        const head = decodeHead((await owner.get(itemKey)).value as Buffer) as ChunkHead
        for (let i = 0; i < head.chunkCount; i++) {
          expect((await owner.get(chunkItemKey(itemKey, head.version, i))).value).not.toBeNull()
          expect((await other.get(chunkItemKey(itemKey, head.version, i))).value).toBeNull()
        }
      }
    } finally {
      for (const c of clients) c.close()
      await store.close()
    }
  })

  it('after memcached restarts, a chunked entry is a miss, then stored and read again', async () => {
    let node = await startMemcached()
    const { store } = harness([node.address], undefined, { retryDownMs: 100 })
    try {
      const key = uniqueKey('restart')
      const entry = bigEntry(key, 2 * ONE_MB)
      await store.set(key, entry, 60_000)
      expectSame(await store.get(key), entry)
      await node.stop()
      node = await startMemcached({ port: node.port })
      // The first operations may see the old connection reset (a miss), then the empty new memcached (a miss).
      for (let i = 0; i < 3; i++) expect(await store.get(key)).toBeUndefined()
      for (let i = 0; i < 50 && !store.isReachable(key); i++) await new Promise(resolve => setTimeout(resolve, 20))
      expect(await store.get(key)).toBeUndefined()
      await store.set(key, entry, 60_000)
      expectSame(await store.get(key), entry)
    } finally {
      await store.close()
      await node.stop()
    }
  })
})
