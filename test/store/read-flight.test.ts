import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemcachedStore } from '../../src/store/memcached.js'
import { ReadFlight } from '../../src/store/read-flight.js'
import { findMemcached, startMemcached, type MemcachedProcess } from '../helpers/memcached.js'
import { memcachedStats } from '../helpers/memcached-text.js'
import { makeEntry, uniqueKey } from './records.js'

describe('ReadFlight', () => {
  it('hands a read of a key already in flight the same promise, and starts a new one once it settled', async () => {
    const flight = new ReadFlight<string>()
    let started = 0
    let finish: (value: string) => void = () => {}
    const start = async (): Promise<string> => await new Promise<string>((resolve) => { started++; finish = resolve })
    const a = flight.read('k', start)
    const b = flight.read('k', start)
    expect(b).toBe(a)
    expect(started).toBe(1)
    flight.read('other', async () => 'x').catch(() => {})
    expect(flight.size).toBe(2)
    finish('v1')
    expect(await a).toBe('v1')
    await Promise.resolve()
    expect(flight.size).toBe(0)
    const c = flight.read('k', start)
    expect(c).not.toBe(a)
    expect(started).toBe(2)
    finish('v2')
    expect(await c).toBe('v2')
  })

  it('starts a new read after forget, and the old one settling leaves the new one in place', async () => {
    const flight = new ReadFlight<number>()
    const resolvers: Array<(n: number) => void> = []
    const start = async (): Promise<number> => await new Promise<number>((resolve) => { resolvers.push(resolve) })
    const first = flight.read('k', start)
    flight.forget('k')
    const second = flight.read('k', start)
    expect(second).not.toBe(first)
    resolvers[0]?.(1)
    expect(await first).toBe(1)
    expect(flight.read('k', start)).toBe(second)
    resolvers[1]?.(2)
    expect(await second).toBe(2)
  })

  it('lets a failed read go, so the next read asks again', async () => {
    const flight = new ReadFlight<number>()
    await expect(flight.read('k', async () => { throw new Error('down') })).rejects.toThrow('down')
    expect(await flight.read('k', async () => 7)).toBe(7)
  })
})

/** memcached's count of get commands, read from its `stats`. */
async function getCount (port: number): Promise<number> {
  return (await memcachedStats(`127.0.0.1:${port}`)).get('cmd_get') as number
}

describe.skipIf(findMemcached() === null)('MemcachedStore reads share the get in flight', () => {
  let mc: MemcachedProcess
  let store: MemcachedStore

  beforeAll(async () => {
    // A memcached of its own: the get count must not include other test files' gets.
    mc = await startMemcached()
    store = new MemcachedStore({ servers: [mc.address], timeoutMs: 1000, retryDownMs: 60_000, prefix: 'rf:', maxItemBytes: 1024 * 1024 })
    await store.ready
  })
  afterAll(async () => {
    await store.close()
    await mc.stop()
  })

  it('64 concurrent reads of one item cost memcached one get, and each caller gets the entry', async () => {
    const key = uniqueKey('shared')
    await store.set(key, makeEntry(key), 60_000)
    const before = await getCount(mc.port)
    const found = await Promise.all(Array.from({ length: 64 }, async () => await store.get(key)))
    expect(await getCount(mc.port) - before).toBe(1)
    for (const record of found) expect(record).toMatchObject({ kind: 'entry', key, etag: '"v1"' })
  })

  it('hands the reads that join one decoded record, for get and lookup alike, and a new one once it settled', async () => {
    const key = uniqueKey('decoded')
    await store.set(key, makeEntry(key), 60_000)
    const gets = Array.from({ length: 8 }, () => store.get(key))
    const lookups = Array.from({ length: 8 }, () => store.lookup(key))
    for (const read of gets) expect(read).toBe(gets[0])
    for (const read of lookups) expect(read).toBe(lookups[0])
    const first = await gets[0]
    expect(first).toMatchObject({ kind: 'entry', key })
    expect(await lookups[0]).toMatchObject({ kind: 'entry', key })
    const next = store.get(key)
    expect(next).not.toBe(gets[0])
    expect(await next).toMatchObject({ kind: 'entry', key })
  })

  it('a read that starts after this process wrote the item sees the write, not the read in flight before it', async () => {
    const key = uniqueKey('written')
    await store.set(key, makeEntry(key, { etag: '"old"' }), 60_000)
    const early = store.get(key)
    const write = store.set(key, makeEntry(key, { etag: '"new"' }), 60_000)
    const late = store.get(key)
    await write
    expect(await early).toMatchObject({ etag: '"old"' })
    expect(await late).toMatchObject({ etag: '"new"' })
    const deleted = store.delete(key)
    const afterDelete = store.get(key)
    await deleted
    expect(await afterDelete).toBeUndefined()
  })
})
