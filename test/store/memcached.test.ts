import { createServer, type Server, type Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { encodeRecord } from '../../src/store/codec.js'
import { expirySeconds, leaseKey, MemcachedStore, memcachedKey, type MemcachedStoreOptions } from '../../src/store/memcached.js'
import { freePort, startMemcached, type MemcachedProcess } from '../helpers/memcached.js'
import { cacheStoreContract } from './contract.js'
import { makeEntry, uniqueKey } from './records.js'

const address = inject('memcached')
const ONE_MB = 1024 * 1024

function makeStore (servers: string[], overrides: Partial<MemcachedStoreOptions> = {}): MemcachedStore {
  return new MemcachedStore({
    servers,
    timeoutMs: 500,
    retryDownMs: 60_000,
    // Test files share one memcached: a prefix per store keeps them apart.
    prefix: `t${Math.random().toString(36).slice(2, 8)}:`,
    maxItemBytes: ONE_MB,
    ...overrides
  })
}

function counting (): { errors: Array<{ server: string, op: string, err: unknown }>, skips: string[], options: Partial<MemcachedStoreOptions> } {
  const errors: Array<{ server: string, op: string, err: unknown }> = []
  const skips: string[] = []
  return {
    errors,
    skips,
    options: { onError: (server, op, err) => errors.push({ server, op, err }), onSkip: reason => skips.push(reason) }
  }
}

describe('memcached keys and expiry', () => {
  it('keeps a memcached key ≤ 250 bytes without spaces for a 10 KB URL', () => {
    const url = 'example.com/' + 'a b'.repeat(3400)
    for (const key of [memcachedKey('corral:v1:', url), leaseKey('corral:v1:', url)]) {
      expect(Buffer.byteLength(key)).toBeLessThanOrEqual(250)
      expect(key).not.toMatch(/\s/)
    }
    expect(memcachedKey('p:', url)).not.toBe(memcachedKey('p:', url + 'x'))
  })

  it('hands memcached whole seconds, rounded up, clamped below the 30-day timestamp threshold', () => {
    expect(expirySeconds(1)).toBe(1)
    expect(expirySeconds(1000)).toBe(1)
    expect(expirySeconds(1001)).toBe(2)
    expect(expirySeconds(90 * 86_400_000)).toBe(30 * 86_400)
  })

  it('rejects a prefix that would break the key rules', () => {
    expect(() => makeStore(['127.0.0.1:1'], { prefix: 'has space' })).toThrow(TypeError)
    expect(() => makeStore(['127.0.0.1:1'], { prefix: 'x'.repeat(240) })).toThrow(TypeError)
  })
})

describe.skipIf(address === null)('MemcachedStore on a live memcached', () => {
  const server = address as string
  cacheStoreContract('memcached', () => makeStore([server]))

  let store: MemcachedStore
  beforeAll(() => { store = makeStore([server]) })
  afterAll(async () => { await store.close() })

  it('stores a record whose lifetime is beyond 30 days (sent as 30 days, not read as a 1970 timestamp)', async () => {
    const key = uniqueKey()
    await store.set(key, makeEntry(key), 90 * 86_400_000)
    expect(await store.get(key)).toEqual(makeEntry(key))
  })

  it('does not send an entry over maxItemBytes, but sends one just under it', async () => {
    const { skips, options } = counting()
    const limited = makeStore([server], options)
    try {
      const big = uniqueKey()
      await limited.set(big, makeEntry(big, { body: Buffer.alloc(ONE_MB) }), 60_000)
      expect(skips).toEqual(['too-large'])
      expect(await limited.get(big)).toBeUndefined()

      // The largest entry the store sends must fit memcached's own limit (-I 1m, the default), or the margin is wrong.
      const edge = uniqueKey()
      const itemKeyBytes = memcachedKey('tXXXXXX:', edge).length
      const shell = encodeRecord(makeEntry(edge, { body: Buffer.alloc(0) })).length
      const body = Buffer.alloc(ONE_MB - 64 - itemKeyBytes - shell, 7)
      await limited.set(edge, makeEntry(edge, { body }), 60_000)
      expect(skips).toEqual(['too-large'])
      const got = await limited.get(edge)
      expect(got?.kind === 'entry' && got.body.length).toBe(body.length)
    } finally {
      await limited.close()
    }
  })

  describe('leases', () => {
    let other: MemcachedStore
    beforeAll(() => { other = makeStore([server]) })
    afterAll(async () => { await other.close() })

    it('lets one holder win, and the next one in after release', async () => {
      // Same prefix as `store`: two proxies of one fleet.
      const a = makeStore([server], { prefix: 'lease-test:' })
      const b = makeStore([server], { prefix: 'lease-test:' })
      try {
        const key = uniqueKey()
        expect(await a.tryLease(key, 5000)).toBe('acquired')
        expect(await b.tryLease(key, 5000)).toBe('held')
        expect(await b.acquire(key, 5000)).toBe(false)
        // b does not hold it: its release must not free a's lease.
        await b.release(key)
        expect(await b.tryLease(key, 5000)).toBe('held')
        await a.release(key)
        expect(await b.tryLease(key, 5000)).toBe('acquired')
        await b.release(key)
        expect(await a.acquire(key, 5000)).toBe(true)
      } finally {
        await a.close()
        await b.close()
      }
    })
  })
})

describe('MemcachedStore when a node is unreachable', () => {
  let silent: Server | undefined
  const sockets: Socket[] = []
  afterEach(async () => {
    for (const socket of sockets) socket.destroy()
    if (silent !== undefined) await new Promise(resolve => silent?.close(resolve))
    silent = undefined
  })

  it('answers a miss and never rejects when nothing listens, and stops calling the node while it is down', async () => {
    const { errors, skips, options } = counting()
    const store = makeStore([`127.0.0.1:${await freePort()}`], options)
    try {
      const key = uniqueKey()
      // The store connects when it is made: a refused connection marks the node down at once.
      await store.ready
      expect(errors).toHaveLength(1)
      expect(errors[0]?.op).toBe('connect')
      expect(await store.get(key)).toBeUndefined()
      for (let i = 0; i < 5; i++) expect(await store.get(key)).toBeUndefined()
      await store.set(key, makeEntry(key), 60_000)
      await store.delete(key)
      expect(await store.tryLease(key, 1000)).toBe('unavailable')
      expect(await store.acquire(key, 1000)).toBe(true)
      expect(errors).toHaveLength(1)
      expect(skips).toEqual(Array(10).fill('node-down'))
    } finally {
      await store.close()
    }
  })

  it('costs about timeoutMs against a node that accepts and never answers, and marks it down after 3 timeouts in a row', async () => {
    silent = createServer(socket => { sockets.push(socket); socket.resume() })
    await new Promise<void>(resolve => silent?.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    const { errors, skips, options } = counting()
    const store = makeStore([`127.0.0.1:${port}`], { ...options, timeoutMs: 150 })
    try {
      const key = uniqueKey()
      await store.ready
      expect(await store.get(key)).toBeUndefined()
      expect(skips).toEqual([])
      await store.set(key, makeEntry(key), 60_000)
      expect(errors.map(e => (e.err as { code?: string }).code)).toEqual(Array(3).fill('CORRAL_ERR_MEMCACHED_TIMEOUT'))
      // Down now: skipped without touching the network.
      expect(await store.get(key)).toBeUndefined()
      expect(skips).toEqual(['node-down'])
      expect(errors).toHaveLength(3)
    } finally {
      await store.close()
    }
  }, 5000)

  it.skipIf(address === null)('degrades to misses when its memcached stops, and uses it again once it is back', async () => {
    let memcached: MemcachedProcess = await startMemcached()
    let now = 0
    const { errors, skips, options } = counting()
    const store = makeStore([memcached.address], { ...options, retryDownMs: 1000, clock: { now: () => now } })
    try {
      const key = uniqueKey()
      await store.set(key, makeEntry(key), 60_000)
      expect(await store.get(key)).toEqual(makeEntry(key))

      await memcached.stop()
      // The dead node is noticed by a reset or refused connection (marked down at once) or, if the kill races the
      // request, by a timeout first: either way every get is a miss and within a few it is skipped.
      for (let i = 0; i < 5 && skips.length === 0; i++) expect(await store.get(key)).toBeUndefined()
      expect(skips).toEqual(['node-down'])
      const noticed = errors.length
      expect(noticed).toBeGreaterThanOrEqual(1)

      memcached = await startMemcached({ port: memcached.port })
      expect(await store.get(key)).toBeUndefined() // still marked down: not even tried
      expect(errors).toHaveLength(noticed)
      now += 1000
      await store.set(key, makeEntry(key), 60_000) // the probe
      expect(await store.get(key)).toEqual(makeEntry(key))
      expect(errors).toHaveLength(noticed)
    } finally {
      await store.close()
      await memcached.stop()
    }
  })
})
