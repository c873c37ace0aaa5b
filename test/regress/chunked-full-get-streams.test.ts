/**
 * Issue 22: a full GET of an entry in memcached chunks, and not in L1 (another proxy filled it), is answered as its
 * chunks arrive instead of after the last one (store/chunk-stream.ts): many clients share one read and one buffer,
 * a chunk evicted mid-answer cuts the answer off (never a body that looks whole), is counted, and drops the head so the
 * next request refetches once. Counted by memcached itself (`watch fetchers`) and the origin's own counter.
 */
import { randomBytes } from 'node:crypto'
import memjs from 'memjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, manyConnections, type TestProxy } from '../helpers/proxy.js'
import { metricSum } from '../helpers/proxy-process.js'
import { closeAfterEach } from '../helpers/opened.js'
import { byteOrigin, bytesOf } from '../helpers/byte-origin.js'
import { findMemcached, startMemcached, type MemcachedProcess } from '../helpers/memcached.js'
import { watchFetches, type FetchWatch } from '../helpers/memcached-watch.js'
import { chunkItemKey, decodeHead, type ChunkHead } from '../../src/store/chunk-codec.js'
import { memcachedKey } from '../../src/store/memcached.js'

const { opened } = closeAfterEach()
const HOST = 'media.test'
const MB = 1024 * 1024
const SIZE = 3 * MB

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

async function proxyFor (origin: TestOrigin, prefix: string): Promise<TestProxy> {
  return opened(await startProxy(origin.url, {
    origin: { url: origin.url, timeoutMs: 5000, retries: 0 },
    cache: { memory: { maxTtlSeconds: 60 }, memcached: { servers: [memcached.address], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 5000 } }
  }))
}

async function metrics (proxy: TestProxy): Promise<string> {
  return await (await fetch(`${proxy.adminUrl}/metrics`)).text()
}

interface Got { status: number, headers: Record<string, unknown>, body: Buffer | Error }

async function fetchOf (proxy: TestProxy, path: string): Promise<Got> {
  const res = await request(`${proxy.url}${path}`, { headers: { host: HOST }, dispatcher: manyConnections })
  try {
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
  } catch (err) {
    return { status: res.statusCode, headers: res.headers, body: err as Error }
  }
}

/** One proxy fills the object (its head committing the chunks its fill streamed); a second, L1 empty, reads it. */
async function filledElsewhere (path: string): Promise<{ origin: TestOrigin, reader: TestProxy, itemKey: string, head: ChunkHead }> {
  const prefix = `fg${randomBytes(3).toString('hex')}:`
  const origin = opened(await startOrigin(byteOrigin(SIZE, { headers: { 'cache-control': 'max-age=3600' } })))
  const filler = await proxyFor(origin, prefix)
  expect((await fetchOf(filler, path)).headers['x-cache']).toBe('MISS')
  await expect.poll(async () => metricSum(await metrics(filler), 'corral_chunked_entries_total', 'op="stored"')).toBe(1)
  const raw = memjs.Client.create(memcached.address, { retries: 0, logger: { log () {} } })
  try {
    const itemKey = memcachedKey(prefix, `${HOST}${path}`)
    const head = decodeHead((await raw.get(itemKey)).value as Buffer) as ChunkHead
    return { origin, reader: await proxyFor(origin, prefix), itemKey, head }
  } finally {
    raw.close()
  }
}

describe.skipIf(findMemcached() === null)('issue 22: a full GET of a chunked entry streams as its chunks arrive', () => {
  it('20 concurrent full GETs on another proxy: every byte, one read of each chunk, a hit from chunks', async () => {
    const { origin, reader, itemKey, head } = await filledElsewhere('/burst.mp4')
    await watch.settle()
    const from = watch.fetches.length
    const answers = await Promise.all(Array.from({ length: 20 }, async () => await fetchOf(reader, '/burst.mp4')))
    const expected = bytesOf(0, SIZE)
    for (const got of answers) {
      expect(got.status).toBe(200)
      expect(got.headers['content-length']).toBe(String(SIZE))
      expect(got.headers['x-cache']).toBe('HIT')
      // From chunks, or (a request the loop took once the read was whole) from L1.
      expect(got.headers['cache-status']).toMatch(/^corral; hit; ttl=\d+(; detail=chunks)?$/)
      expect(got.body instanceof Buffer && got.body.equals(expected)).toBe(true)
    }
    await watch.settle()
    const chunkGets = watch.fetches.slice(from).filter(f => f.key.startsWith(`${itemKey}~${head.version}~`))
    // One whole read for the burst: each chunk once, however many clients streamed it.
    expect(chunkGets).toHaveLength(head.chunkCount)
    expect(new Set(chunkGets.map(f => f.key)).size).toBe(head.chunkCount)
    expect(origin.count).toBe(1)
    const fromChunks = answers.filter(a => String(a.headers['cache-status']).endsWith('detail=chunks')).length
    expect(fromChunks).toBeGreaterThan(0)
    expect(reader.logs.filter(l => l['msg'] === 'access' && l['body'] === 'chunks')).toHaveLength(fromChunks)
    // The whole read ends in L1, as before: the next request is a memory hit, and memcached is not asked.
    const before = watch.fetches.length
    const next = await fetchOf(reader, '/burst.mp4')
    expect(next.body instanceof Buffer && next.body.equals(expected)).toBe(true)
    expect(next.headers['cache-status']).toMatch(/^corral; hit; ttl=\d+$/)
    await watch.settle()
    expect(watch.fetches.slice(before).filter(f => f.key.startsWith(itemKey))).toEqual([])
  })

  it('a chunk evicted before it is read: the 200 already under way is cut off, counted, and the next request refetches once', async () => {
    const { origin, reader, itemKey, head } = await filledElsewhere('/evicted.mp4')
    const raw = memjs.Client.create(memcached.address, { retries: 0, logger: { log () {} } })
    try {
      await raw.delete(chunkItemKey(itemKey, head.version, head.chunkCount - 3))
    } finally {
      raw.close()
    }
    const torn = await fetchOf(reader, '/evicted.mp4')
    // Headers went out before the hole was found: the answer is a 200 that ends in an error, never a short body.
    expect(torn.status).toBe(200)
    expect(torn.headers['content-length']).toBe(String(SIZE))
    expect(torn.body).toBeInstanceOf(Error)
    expect(metricSum(await metrics(reader), 'corral_chunk_misses_total')).toBe(1)
    await expect.poll(() => reader.logs.find(l => l['msg'] === 'access' && l['status'] === 200)?.['error']).toBe('CORRAL_ERR_CHUNK_TORN')
    // The head went with it: the next request is a miss and one refetch, whole.
    const again = await fetchOf(reader, '/evicted.mp4')
    expect(again.headers['x-cache']).toBe('MISS')
    expect(again.body instanceof Buffer && again.body.equals(bytesOf(0, SIZE))).toBe(true)
    expect(origin.count).toBe(2)
  })
})
