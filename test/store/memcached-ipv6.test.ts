/**
 * Issue 16: a memcached node written `[::1]:port` is reached over IPv6. The global memcached listens on IPv4, so a
 * plain TCP relay on ::1 stands in front of it: the store talks to a real memcached through a real IPv6 socket.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { MemcachedStore } from '../../src/store/memcached.js'
import { makeEntry, uniqueKey } from './records.js'

const address = inject('memcached')

describe.skipIf(address === null)('MemcachedStore with an [ipv6]:port node', () => {
  let relay: Server
  let port = 0
  let relayed = 0
  const sockets = new Set<Socket>()

  beforeAll(async () => {
    const [host, memcachedPort] = (address as string).split(':') as [string, string]
    relay = createServer((client) => {
      relayed++
      const upstream = connect(Number(memcachedPort), host)
      sockets.add(client).add(upstream)
      client.pipe(upstream).pipe(client)
      client.on('error', () => upstream.destroy())
      upstream.on('error', () => client.destroy())
    })
    await new Promise<void>((resolve) => relay.listen(0, '::1', resolve))
    port = (relay.address() as { port: number }).port
  })

  afterAll(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => relay.close(() => resolve()))
  })

  it('stores and reads an entry through ::1', async () => {
    const errors: unknown[] = []
    const store = new MemcachedStore({
      servers: [`[::1]:${port}`],
      timeoutMs: 500,
      retryDownMs: 60_000,
      prefix: `t6${Math.random().toString(36).slice(2, 8)}:`,
      maxItemBytes: 1024 * 1024,
      onError: (_server, _op, err) => errors.push(err)
    })
    try {
      const key = uniqueKey('ipv6')
      await store.set(key, makeEntry(key), 60_000)
      const found = await store.get(key)
      expect(found?.kind).toBe('entry')
      expect(errors).toEqual([])
      expect(relayed).toBeGreaterThan(0)
    } finally {
      await store.close()
    }
  })
})
