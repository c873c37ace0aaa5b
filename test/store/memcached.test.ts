import { connect, createServer, type Server, type Socket } from 'node:net'
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

  it('stores and reads an entry under a 16 KiB key without memoising the key', async () => {
    const prefix = `long${Math.random().toString(36).slice(2, 8)}:`
    const s = makeStore([server], { prefix })
    const reader = makeStore([server], { prefix })
    try {
      const long = uniqueKey() + '&q=' + 'x'.repeat(16_384)
      await s.set(long, makeEntry(long), 60_000)
      expect(await s.get(long)).toEqual(makeEntry(long))
      expect(await s.get(long)).toEqual(makeEntry(long))
      expect(await reader.get(long)).toEqual(makeEntry(long))
      expect(s.memoisedKeys).toEqual({ itemKeys: 0, meta: 0 })
      const short = uniqueKey()
      await s.set(short, makeEntry(short), 60_000)
      expect(await s.get(short)).toEqual(makeEntry(short))
      expect(s.memoisedKeys).toEqual({ itemKeys: 1, meta: 1 })
    } finally {
      await s.close()
      await reader.close()
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
        expect(await b.tryLease(key, 5000)).toBe('held')
        // b does not hold it: its release must not free a's lease.
        await b.release(key)
        expect(await b.tryLease(key, 5000)).toBe('held')
        await a.release(key)
        expect(await b.tryLease(key, 5000)).toBe('acquired')
        await b.release(key)
        expect(await a.tryLease(key, 5000)).toBe('acquired')
      } finally {
        await a.close()
        await b.close()
      }
    })

    it('renews a held lease until release, so a holder working past its ttl keeps it', async () => {
      const prefix = `renew${Math.random().toString(36).slice(2, 8)}:`
      const a = makeStore([server], { prefix })
      const b = makeStore([server], { prefix })
      try {
        const key = uniqueKey()
        expect(await a.tryLease(key, 1000)).toBe('acquired')
        // A witness with the lease's lifetime (leaseExpirySeconds(1000) = expirySeconds(2000) = 2 s), stored after the
        // lease: once memcached has expired it, a lease that was not renewed has expired too.
        const witness = uniqueKey('witness')
        await b.set(witness, makeEntry(witness), 2000)
        expect(await b.get(witness)).toBeDefined()
        await expect.poll(async () => await b.get(witness), { timeout: 10_000, interval: 50 }).toBeUndefined()
        expect(await b.tryLease(key, 1000)).toBe('held')
        await a.release(key)
        expect(await b.tryLease(key, 1000)).toBe('acquired')
      } finally {
        await a.close()
        await b.close()
      }
    }, 15_000)
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
      expect(await store.tryLease(key, 1000)).toBe('unavailable')
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

  it('keeps the node down when the probe after a reset times out', async () => {
    let connections = 0
    // The first connection is reset (the node marked down at once); later ones are accepted and never answered.
    silent = createServer(socket => {
      sockets.push(socket)
      if (++connections === 1) socket.resetAndDestroy()
      else socket.resume()
    })
    await new Promise<void>(resolve => silent?.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    let now = 0
    const { errors, skips, options } = counting()
    const store = makeStore([`127.0.0.1:${port}`], { ...options, timeoutMs: 150, retryDownMs: 1000, clock: { now: () => now } })
    try {
      const key = uniqueKey()
      await store.ready
      expect(errors.map(e => e.op)).toEqual(['connect'])
      expect(await store.get(key)).toBeUndefined()
      expect(skips).toEqual(['node-down'])

      now += 1000
      expect(await store.get(key)).toBeUndefined() // the probe: times out
      expect(errors.map(e => (e.err as { code?: string }).code).slice(1)).toEqual(['CORRAL_ERR_MEMCACHED_TIMEOUT'])
      expect(await store.get(key)).toBeUndefined()
      expect(skips).toEqual(['node-down', 'node-down'])
      expect(errors).toHaveLength(2)
    } finally {
      await store.close()
    }
  }, 5000)

  it.skipIf(address === null)('reports a node down once however many operations fail, and back once when its timer probe answers', async () => {
    const port = await freePort()
    const down: string[] = []
    let upAfter: (downMs: number) => void = () => {}
    const up = new Promise<number>(resolve => { upAfter = resolve })
    const store = makeStore([`127.0.0.1:${port}`], {
      retryDownMs: 100,
      probeDownNodes: true,
      onNodeDown: (server, reason) => down.push(`${server} ${reason}`),
      onNodeUp: (_server, downMs) => upAfter(downMs)
    })
    let memcached: MemcachedProcess | undefined
    try {
      await store.ready
      await Promise.all(Array.from({ length: 16 }, async () => await store.get(uniqueKey())))
      expect(down).toHaveLength(1)
      expect(down[0]).toMatch(new RegExp(`^127\\.0\\.0\\.1:${port} `))
      // Failed probes (every 100 ms until memcached is up) count as errors too, so only the first is certain.
      expect(store.nodeStates()).toEqual([{ server: `127.0.0.1:${port}`, up: false, downSince: expect.any(Number) as number, errors: expect.any(Number) as number }])
      expect(store.nodeStates()[0]?.errors).toBeGreaterThanOrEqual(1)
      expect(store.isReachable(uniqueKey())).toBe(false)
      memcached = await startMemcached({ port })
      // No operation is sent: the store's own probe finds the node back.
      expect(await up).toBeGreaterThan(0)
      expect(down).toHaveLength(1)
      expect(store.nodeStates()).toEqual([{ server: `127.0.0.1:${port}`, up: true, downSince: null, errors: expect.any(Number) as number }])
      expect(store.isReachable(uniqueKey())).toBe(true)
    } finally {
      await store.close()
      await memcached?.stop()
    }
  })

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

/**
 * A TCP front for the shared memcached: a clean pipe, except that once armed, the next request it receives is
 * answered with `fault` (and the connection closed by the server) instead of being forwarded.
 */
async function misbehavingFront (target: string, fault: Buffer): Promise<{ address: string, arm (): void, connections (): number, close (): Promise<void> }> {
  const [host, port] = target.split(':') as [string, string]
  const sockets = new Set<Socket>()
  let armed = false
  let connections = 0
  const front = createServer(client => {
    connections++
    const up = connect(Number(port), host)
    sockets.add(client).add(up)
    up.on('data', chunk => client.write(chunk))
    client.on('data', chunk => {
      if (!armed) {
        up.write(chunk)
        return
      }
      armed = false
      up.destroy()
      client.end(fault)
    })
    up.on('error', () => client.destroy())
    client.on('error', () => up.destroy())
    client.on('close', () => up.destroy())
    up.on('close', () => client.end())
  })
  await new Promise<void>(resolve => front.listen(0, '127.0.0.1', resolve))
  const { port: frontPort } = front.address() as { port: number }
  return {
    address: `127.0.0.1:${frontPort}`,
    arm () { armed = true },
    connections: () => connections,
    async close () {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => front.close(resolve))
    }
  }
}

describe.skipIf(address === null)('MemcachedStore after a connection misbehaved', () => {
  const server = address as string
  // What memcached writes at its -c limit, and 20 bytes of a binary response cut short: either way memjs keeps
  // bytes that are no answer in its response buffer, in front of everything the next connection reads.
  const faults = {
    'memcached\'s "ERROR Too many open connections"': Buffer.from('ERROR Too many open connections\r\n'),
    'a response cut short': Buffer.concat([Buffer.from([0x81]), Buffer.alloc(19)])
  }

  for (const [name, fault] of Object.entries(faults)) {
    it(`gets work again once the node is retried, after ${name}`, async () => {
      const front = await misbehavingFront(server, fault)
      let now = 0
      const { skips, options } = counting()
      const store = makeStore([front.address], { ...options, timeoutMs: 200, retryDownMs: 1000, clock: { now: () => now } })
      try {
        const key = uniqueKey()
        await store.set(key, makeEntry(key), 60_000)
        expect(await store.get(key)).toEqual(makeEntry(key))

        front.arm()
        expect(await store.get(key)).toBeUndefined()
        // Later gets go out on a new connection; the node is marked down within a few (timeouts in a row).
        for (let i = 0; i < 5 && skips.length === 0; i++) expect(await store.get(key)).toBeUndefined()
        expect(skips).toEqual(['node-down'])

        now += 1000
        expect(await store.get(key)).toEqual(makeEntry(key)) // the probe
        expect(await store.get(key)).toEqual(makeEntry(key))
        expect(skips).toEqual(['node-down'])
      } finally {
        await store.close()
        await front.close()
      }
    }, 10_000)
  }

  it('does not mark a healthy node down when the event loop stalls past timeoutMs with gets in flight', async () => {
    const { errors, skips, options } = counting()
    const store = makeStore([server], { ...options, timeoutMs: 50 })
    try {
      const keys = Array.from({ length: 5 }, () => uniqueKey())
      for (const key of keys) await store.set(key, makeEntry(key), 60_000)
      const reads = keys.map(async key => await store.get(key))
      // Queued after the batched write of those gets (also a setImmediate): memcached answers while we are busy.
      setImmediate(() => {
        const end = Date.now() + 250
        while (Date.now() < end) { /* a burst of request handlers */ }
      })
      expect(await Promise.all(reads)).toEqual(keys.map(key => makeEntry(key)))
      const next = uniqueKey()
      await store.set(next, makeEntry(next), 60_000)
      expect(await store.get(next)).toEqual(makeEntry(next))
      expect(skips).toEqual([])
      expect(errors).toEqual([])
    } finally {
      await store.close()
    }
  })
})
