/**
 * Issue 22, item 5: a Range request on an entry stored as memcached chunks, and not in L1, reads the head and only the
 * chunks that cover the range (the first chunk's metadata once per stored version), counted by memcached itself
 * (`watch fetchers`). 206, 416, 304 and If-Range answer as from a whole entry; a chunk evicted is a miss and one
 * refetch, never a short body; a later full request still reads and gets the whole object.
 */
import { randomBytes } from 'node:crypto'
import memjs from 'memjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, manyConnections, TestClock, type TestProxy } from '../helpers/proxy.js'
import { metricSum } from '../helpers/proxy-process.js'
import { closeAfterEach } from '../helpers/opened.js'
import { byteOrigin, bytesOf } from '../helpers/byte-origin.js'
import { findMemcached, startMemcached, type MemcachedProcess } from '../helpers/memcached.js'
import { watchFetches, type FetchWatch } from '../helpers/memcached-watch.js'
import { chunkItemKey, decodeHead, type ChunkHead } from '../../src/store/chunk-codec.js'
import { memcachedKey } from '../../src/store/memcached.js'

const { opened } = closeAfterEach()
const HOST = 'media.test'
/** 64 KiB items: a 300 kB clip is 5 chunks of 65,192 bytes (the item less its key room and overhead). */
const ITEM_BYTES = 64 * 1024
const SIZE = 300_000
const ETAG = '"clip-1"'

let memcached: MemcachedProcess
let watch: FetchWatch

beforeAll(async () => {
  if (findMemcached() === null) return
  memcached = await startMemcached({ threads: 1 })
  watch = await watchFetches(memcached.address)
})
afterAll(async () => {
  await watch?.close()
  await memcached?.stop()
})

async function proxyFor (origin: TestOrigin, prefix: string, maxTtlSeconds = 0, clock?: TestClock): Promise<TestProxy> {
  return opened(await startProxy(origin.url, {
    origin: { url: origin.url, timeoutMs: 5000, retries: 0 },
    cache: {
      memory: { maxTtlSeconds },
      memcached: { servers: [memcached.address], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 5000, maxItemBytes: ITEM_BYTES }
    }
  }, clock === undefined ? {} : { clock }))
}

interface Got { status: number, headers: Record<string, unknown>, body: Buffer }

async function fetchOf (proxy: TestProxy, path: string, headers: Record<string, string> = {}): Promise<Got> {
  const res = await request(`${proxy.url}${path}`, { headers: { host: HOST, ...headers }, dispatcher: manyConnections })
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
}

async function metrics (proxy: TestProxy): Promise<string> {
  return await (await fetch(`${proxy.adminUrl}/metrics`)).text()
}

/** The whole object is in memcached (a streamed fill's client has its last byte before the store write lands). */
async function stored (proxy: TestProxy, n: number): Promise<void> {
  await expect.poll(async () => metricSum(await metrics(proxy), 'corral_chunked_entries_total', 'op="stored"'), { timeout: 10_000 }).toBe(n)
}

/**
 * `metaGets`: the chunk read for the metadata once per stored version: chunk 0 of a head that holds the whole record
 * in its chunks, none for a committed head (a streaming fill's chunks hold the body, the head the metadata).
 */
interface Layout { itemKey: string, head: ChunkHead, bodyOffset: number, metaGets: number[] }

/** Where the body's bytes sit among the chunks, read from memcached as the proxy wrote it. */
async function layoutOf (prefix: string, path: string): Promise<Layout> {
  const raw = memjs.Client.create(memcached.address, { retries: 0, logger: { log () {} } })
  try {
    const itemKey = memcachedKey(prefix, `${HOST}${path}`)
    const head = decodeHead((await raw.get(itemKey)).value as Buffer) as ChunkHead
    if (head.committed !== null) return { itemKey, head, bodyOffset: 0, metaGets: [] }
    const first = (await raw.get(chunkItemKey(itemKey, head.version, 0))).value as Buffer
    return { itemKey, head, bodyOffset: 16 + first.readUInt32BE(2), metaGets: [0] }
  } finally {
    raw.close()
  }
}

/** The chunk indexes a range of body bytes (inclusive) lies in. */
function chunksOf (layout: Layout, first: number, last: number): number[] {
  const out: number[] = []
  for (let i = Math.floor((layout.bodyOffset + first) / layout.head.chunkBytes); i <= Math.floor((layout.bodyOffset + last) / layout.head.chunkBytes); i++) out.push(i)
  return out
}

/** `act`'s gets of the entry's items, as memcached logged them: 'head' or the chunk index. */
async function getsDuring (layout: Layout, act: () => Promise<Got>): Promise<{ got: Got, gets: Array<number | 'head'> }> {
  await watch.settle()
  const from = watch.fetches.length
  const got = await act()
  await watch.settle()
  const gets: Array<number | 'head'> = []
  for (const f of watch.fetches.slice(from)) {
    if (f.key === layout.itemKey) gets.push('head')
    else if (f.key.startsWith(`${layout.itemKey}~${layout.head.version}~`)) gets.push(Number(f.key.slice(f.key.lastIndexOf('~') + 1)))
  }
  return { got, gets }
}

async function primed (
  prefix: string, path: string, cacheControl = 'max-age=3600', clock?: TestClock, size = SIZE
): Promise<{ origin: TestOrigin, proxy: TestProxy, layout: Layout }> {
  const origin = opened(await startOrigin(byteOrigin(size, { headers: { 'cache-control': cacheControl, etag: ETAG } })))
  const proxy = await proxyFor(origin, prefix, 0, clock)
  expect((await fetchOf(proxy, path)).headers['x-cache']).toBe('MISS')
  await stored(proxy, 1)
  const layout = await layoutOf(prefix, path)
  expect(layout.head.chunkCount).toBe(Math.ceil((size + layout.bodyOffset) / layout.head.chunkBytes))
  return { origin, proxy, layout }
}

function newPrefix (): string {
  return `rg${randomBytes(3).toString('hex')}:`
}

describe.skipIf(findMemcached() === null)('issue 22: Range from memcached chunks reads only the chunks it needs', () => {
  it('a range inside one chunk reads the head, the metadata once, and that chunk; the next range the head and its chunk', async () => {
    const { origin, proxy, layout } = await primed(newPrefix(), '/clip.webm')
    const first = await getsDuring(layout, async () => await fetchOf(proxy, '/clip.webm', { range: 'bytes=150000-150999' }))
    expect(first.got.status).toBe(206)
    expect(first.got.headers['content-range']).toBe(`bytes 150000-150999/${SIZE}`)
    expect(first.got.headers['x-cache']).toBe('HIT')
    expect(first.got.headers['cache-status']).toMatch(/^corral; hit; ttl=\d+; detail=chunks$/)
    expect(first.got.body.equals(bytesOf(150000, 1000))).toBe(true)
    expect(first.gets).toEqual(['head', ...layout.metaGets, ...chunksOf(layout, 150000, 150999)])

    const next = await getsDuring(layout, async () => await fetchOf(proxy, '/clip.webm', { range: 'bytes=260000-260099' }))
    expect(next.got.status).toBe(206)
    expect(next.got.body.equals(bytesOf(260000, 100))).toBe(true)
    expect(next.gets).toEqual(['head', ...chunksOf(layout, 260000, 260099)])
    expect(origin.count).toBe(1)
    const text = await metrics(proxy)
    expect(metricSum(text, 'corral_chunked_entries_total', 'op="range"')).toBe(2)
    expect(metricSum(text, 'corral_chunked_entries_total', 'op="read"')).toBe(0)
    // Three chunks of 65,192 bytes at most, not the 300 kB object.
    expect(metricSum(text, 'corral_chunk_bytes_total', 'op="read"')).toBeLessThanOrEqual(3 * layout.head.chunkBytes)
    expect(proxy.logs.filter(l => l['msg'] === 'access' && l['status'] === 206 && l['body'] === 'chunks')).toHaveLength(2)
  })

  it('a range across a chunk boundary, the last chunk, and suffix ranges read just the chunks they cover', async () => {
    const { proxy, layout } = await primed(newPrefix(), '/seek.webm')
    const boundary = layout.head.chunkBytes * 2 - layout.bodyOffset
    const cases: Array<[string, number, number]> = [
      [`bytes=${boundary - 500}-${boundary + 499}`, boundary - 500, boundary + 499],
      [`bytes=${SIZE - 700}-${SIZE - 1}`, SIZE - 700, SIZE - 1],
      [`bytes=${SIZE - 10}-`, SIZE - 10, SIZE - 1],
      ['bytes=-300', SIZE - 300, SIZE - 1],
      ['bytes=-100000', SIZE - 100000, SIZE - 1]
    ]
    // The metadata is read once, with the first range.
    let meta: Array<number | 'head'> = layout.metaGets
    for (const [range, first, last] of cases) {
      const { got, gets } = await getsDuring(layout, async () => await fetchOf(proxy, '/seek.webm', { range }))
      expect(got.status, range).toBe(206)
      expect(got.headers['content-range'], range).toBe(`bytes ${first}-${last}/${SIZE}`)
      expect(got.body.equals(bytesOf(first, last - first + 1)), range).toBe(true)
      const covering = chunksOf(layout, first, last)
      expect(gets, range).toEqual(['head', ...meta.filter(i => !covering.includes(i as number)), ...covering])
      meta = []
    }
    expect(chunksOf(layout, boundary - 500, boundary + 499)).toHaveLength(2)
  })

  it('416, 304 and If-Range answer as from a whole entry; a range over every chunk reads it whole', async () => {
    const { origin, proxy, layout } = await primed(newPrefix(), '/rules.webm')
    const unsatisfiable = await getsDuring(layout, async () => await fetchOf(proxy, '/rules.webm', { range: `bytes=${SIZE}-` }))
    expect(unsatisfiable.got.status).toBe(416)
    expect(unsatisfiable.got.headers['content-range']).toBe(`bytes */${SIZE}`)
    expect(unsatisfiable.gets).toEqual(['head', ...layout.metaGets])

    const notModified = await getsDuring(layout, async () => await fetchOf(proxy, '/rules.webm', { range: 'bytes=0-99', 'if-none-match': ETAG }))
    expect(notModified.got.status).toBe(304)
    expect(notModified.gets).toEqual(['head'])

    const matching = await fetchOf(proxy, '/rules.webm', { range: 'bytes=70000-70009', 'if-range': ETAG })
    expect(matching.status).toBe(206)
    expect(matching.body.equals(bytesOf(70000, 10))).toBe(true)

    // An If-Range that does not match gets the whole 200: read whole, the CRC checked.
    const other = await getsDuring(layout, async () => await fetchOf(proxy, '/rules.webm', { range: 'bytes=70000-70009', 'if-range': '"other"' }))
    expect(other.got.status).toBe(200)
    expect(other.got.body.equals(bytesOf(0, SIZE))).toBe(true)
    expect(other.gets).toEqual(['head', 0, 1, 2, 3, 4])

    // A browser's first request for a video: every chunk, so read whole (the CRC checked, the body kept in memory).
    const all = await fetchOf(proxy, '/rules.webm', { range: 'bytes=0-' })
    expect(all.status).toBe(206)
    expect(all.body.equals(bytesOf(0, SIZE))).toBe(true)
    expect(origin.count).toBe(1)
  })

  it('a chunk evicted after the head was written is a miss and one refetch, never a short body', async () => {
    const prefix = newPrefix()
    const { origin, proxy, layout } = await primed(prefix, '/evicted.webm')
    const wanted = chunksOf(layout, 200000, 200999)
    const raw = memjs.Client.create(memcached.address, { retries: 0, logger: { log () {} } })
    try {
      await raw.delete(chunkItemKey(layout.itemKey, layout.head.version, wanted[0] as number))
    } finally {
      raw.close()
    }
    // The head still names the deleted chunk: the proxy reads the head (and the metadata), then finds the chunk gone.
    const after = await fetchOf(proxy, '/evicted.webm', { range: 'bytes=200000-200999' })
    expect(after.status).toBe(206)
    expect(after.headers['x-cache']).toBe('MISS')
    expect(after.body.equals(bytesOf(200000, 1000))).toBe(true)
    expect(origin.count).toBe(2)
    // The refetch asks for the whole object, to store it again.
    expect(origin.requests[1]?.headers.range).toBeUndefined()
    expect(metricSum(await metrics(proxy), 'corral_chunk_misses_total')).toBe(1)
    await stored(proxy, 2)
    const again = await fetchOf(proxy, '/evicted.webm', { range: 'bytes=200000-200999' })
    expect(again.headers['x-cache']).toBe('HIT')
    expect(again.body.equals(bytesOf(200000, 1000))).toBe(true)
    expect(origin.count).toBe(2)
  })

  it('another proxy answers ranges from chunks, keeps no part in L1, and keeps the whole once a full request reads it', async () => {
    const prefix = newPrefix()
    const { origin, layout } = await primed(prefix, '/shared.webm')
    // A second proxy with L1 on (60 s): its first ranges read chunks, as L1 has nothing yet.
    const b = await proxyFor(origin, prefix, 60)
    for (let i = 0; i < 2; i++) {
      const { got, gets } = await getsDuring(layout, async () => await fetchOf(b, '/shared.webm', { range: 'bytes=100000-100099' }))
      expect(got.status).toBe(206)
      expect(got.body.equals(bytesOf(100000, 100))).toBe(true)
      expect(gets[0]).toBe('head')
      expect(gets.length).toBeLessThanOrEqual(3)
    }
    const whole = await fetchOf(b, '/shared.webm')
    expect(whole.status).toBe(200)
    expect(whole.headers['cache-status']).toMatch(/detail=chunks$/)
    expect(whole.body.equals(bytesOf(0, SIZE))).toBe(true)
    // Now in L1: a range costs memcached nothing.
    const fromL1 = await getsDuring(layout, async () => await fetchOf(b, '/shared.webm', { range: 'bytes=100000-100099' }))
    expect(fromL1.got.status).toBe(206)
    expect(fromL1.got.body.equals(bytesOf(100000, 100))).toBe(true)
    expect(fromL1.gets).toEqual([])
    expect(origin.count).toBe(1)
  })

  it('a stale entry is read whole for a Range: the stale answer and its refresh need the whole body', async () => {
    const clock = new TestClock(Date.now())
    const { origin, proxy, layout } = await primed(newPrefix(), '/stale.webm', 'max-age=60, stale-while-revalidate=600', clock)
    clock.advance(61_000)
    const { got, gets } = await getsDuring(layout, async () => await fetchOf(proxy, '/stale.webm', { range: 'bytes=1000-1999' }))
    expect(got.status).toBe(206)
    expect(got.headers['x-cache']).toBe('STALE')
    expect(got.body.equals(bytesOf(1000, 1000))).toBe(true)
    // Every chunk once in the whole read; for a head whose chunks hold the record, the first twice (the metadata too).
    expect(gets.filter(g => g !== 'head').sort()).toEqual([...layout.metaGets, 0, 1, 2, 3, 4].sort())
    // The one background refresh asks the origin for the whole object.
    await origin.arrived(2)
    expect(origin.requests[1]?.headers.range).toBeUndefined()
  })

  it('a long open-ended range (a browser\'s seek) is sent as its chunks are read, each chunk once', async () => {
    const size = 700_000
    const { origin, proxy, layout } = await primed(newPrefix(), '/long.webm', undefined, undefined, size)
    expect(layout.head.chunkCount).toBe(11)
    const { got, gets } = await getsDuring(layout, async () => await fetchOf(proxy, '/long.webm', { range: 'bytes=100000-' }))
    expect(got.status).toBe(206)
    expect(got.headers['content-range']).toBe(`bytes 100000-${size - 1}/${size}`)
    expect(got.headers['content-length']).toBe(String(size - 100000))
    expect(got.body.equals(bytesOf(100000, size - 100000))).toBe(true)
    expect(gets).toEqual(['head', ...layout.metaGets, ...chunksOf(layout, 100000, size - 1)])
    expect(origin.count).toBe(1)
  })

  it('a chunk missing in the part of a long range still to be sent cuts the answer off, never a short body', async () => {
    const size = 700_000
    const { proxy, layout } = await primed(newPrefix(), '/torn.webm', undefined, undefined, size)
    const raw = memjs.Client.create(memcached.address, { retries: 0, logger: { log () {} } })
    try {
      // The range's first chunk is read before it is answered; the ninth comes later.
      await raw.delete(chunkItemKey(layout.itemKey, layout.head.version, 9))
    } finally {
      raw.close()
    }
    const res = await request(`${proxy.url}/torn.webm`, { headers: { host: HOST, range: 'bytes=100000-' }, dispatcher: manyConnections })
    expect(res.statusCode).toBe(206)
    expect(res.headers['content-length']).toBe(String(size - 100000))
    await expect(res.body.arrayBuffer()).rejects.toThrow()
    expect(metricSum(await metrics(proxy), 'corral_chunk_misses_total')).toBe(1)
    await expect.poll(() => proxy.logs.find(l => l['msg'] === 'access' && l['status'] === 206)?.['error']).toBe('CORRAL_ERR_CHUNK_TORN')
  })
})
