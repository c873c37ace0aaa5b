/**
 * Review findings on hot reload (single process): an edit cannot leave an admin listener bound off loopback without a
 * token, and an edit that does not touch the store's own settings (origin.timeoutMs, memory.maxTtlSeconds, memcached
 * keys while memcached is off) keeps the cache, so hits stay hits.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, merge, type Got, type TestProxy } from '../helpers/proxy.js'
import { startProxyFromFile, type FileProxy, type Json } from '../helpers/config-file.js'
import { parseConfig, type LoadedConfig } from '../../src/config/load.js'
import { retiredCacheCloseDelayMs } from '../../src/proxy-build.js'

const memcached = inject('memcached')
const TOKEN = 'a-long-admin-token-0123456789'
const HOST = 'site.test'

const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close()
})

async function origin (body: (n: number) => string = (n) => `page ${n}`): Promise<TestOrigin> {
  const o = await startOrigin(answer(200, { 'cache-control': 'max-age=300' }, body))
  cleanups.push(() => o.close())
  return o
}

async function page (p: { url: string }, path: string): Promise<Got> {
  return await get(`${p.url}${path}`, { host: HOST })
}

async function admin (p: { adminUrl: string }, path: string, method = 'GET', token?: string): Promise<{ status: number, body: string }> {
  const res = await fetch(`${p.adminUrl}${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.text() }
}

interface FlagsBody { version: string, rejected: null | { message: string, keyPath: string } }

async function flags (p: { adminUrl: string }, token?: string): Promise<FlagsBody> {
  const res = await admin(p, '/flags', 'GET', token)
  expect(res.status).toBe(200)
  return JSON.parse(res.body) as FlagsBody
}

/** The config in force with `changes` deep-merged in, parsed as an edit would be. */
function edited (p: TestProxy, changes: Json): LoadedConfig {
  return parseConfig(JSON.stringify(merge(p.proxy.loaded.config as unknown as Json, changes)))
}

describe('admin.token cannot be removed while the admin listener is bound off loopback', () => {
  it('an edit moving admin.host to loopback without a token is rejected naming admin.token; the token is still required', async () => {
    const o = await origin()
    // 0.0.0.0 also answers on 127.0.0.1, where adminUrl points.
    const p: FileProxy = await startProxyFromFile(o.url, { admin: { host: '0.0.0.0', token: TOKEN } })
    cleanups.push(() => p.close())
    const good = p.file.config
    const version = p.proxy.loaded.version
    expect((await admin(p, '/flags')).status).toBe(401)

    // admin.host only changes on restart: the listener would stay on 0.0.0.0, open to anyone. (The edit also switches
    // cacheOnly on, which must not happen either.)
    p.file.write({ ...good, admin: { host: '127.0.0.1', port: 0 }, flags: { cacheOnly: true } })
    await expect.poll(async () => (await flags(p, TOKEN)).rejected, { timeout: 5000, interval: 20 }).not.toBeNull()

    const report = await flags(p, TOKEN)
    expect(report.rejected?.message).toMatch(/admin\.token: is required while the admin listener is bound to 0\.0\.0\.0/)
    expect(report.rejected?.keyPath).toBe('admin.token')
    expect(report.version).toBe(version)
    expect(p.proxy.loaded.version).toBe(version)
    expect(p.proxy.loaded.config.admin.token).toBe(TOKEN)
    expect((await admin(p, '/flags')).status).toBe(401)
    expect((await admin(p, `/purge?url=${encodeURIComponent(`http://${HOST}/a`)}`, 'POST')).status).toBe(401)
    expect((await admin(p, '/metrics')).status).toBe(401)
    expect((await page(p, '/a')).headers['x-cache']).toBe('MISS')
    expect(p.logs.find((l) => l['msg'] === 'config edit rejected; the last good config stays in force')).toMatchObject({ key: 'admin.token' })

    // proxy.apply refuses it the same way (SIGHUP and the watcher go through it).
    const refused = parseConfig(JSON.stringify({ ...good, admin: { host: '127.0.0.1', port: 0 } }))
    expect(() => p.proxy.apply(refused)).toThrow(/^admin\.token: is required/)
    expect(p.proxy.loaded.version).toBe(version)

    // An edit that keeps the token applies.
    p.file.write({ ...good, flags: { cacheOnly: true } })
    await expect.poll(async () => (await flags(p, TOKEN)).rejected, { timeout: 5000, interval: 20 }).toBeNull()
    expect((await page(p, '/b')).headers['x-cache']).toBe('SHED')
    expect((await admin(p, '/flags')).status).toBe(401)
  })

  it('while the listener is bound to loopback, an edit may still remove the token', async () => {
    const o = await origin()
    const p = await startProxy(o.url, { admin: { host: '127.0.0.1', token: TOKEN } })
    cleanups.push(() => p.close())
    expect((await admin(p, '/flags')).status).toBe(401)
    const next = parseConfig(JSON.stringify({ ...p.proxy.loaded.config, admin: { host: '127.0.0.1', port: 0 } }))
    p.proxy.apply(next)
    expect(p.proxy.loaded.version).toBe(next.version)
    expect((await admin(p, '/flags')).status).toBe(200)
  })
})

describe('an edit keeps the cache unless it changes what the store is built from', () => {
  it('embedded cache: origin.timeoutMs, memory.maxTtlSeconds and memcached keys (memcached off) keep L1; a HIT stays a HIT', async () => {
    const o = await origin()
    const p = await startProxy(o.url)
    cleanups.push(() => p.close())
    expect((await page(p, '/page')).headers['x-cache']).toBe('MISS')
    expect((await page(p, '/page')).headers['x-cache']).toBe('HIT')
    const store = p.proxy.pipeline.cache.store

    for (const changes of [
      { origin: { timeoutMs: 9000 } },
      { cache: { memory: { maxTtlSeconds: 30 } } },
      { cache: { memcached: { prefix: 'other:', timeoutMs: 500, leaseTtlMs: 2000 } } },
      { cache: { memcached: { enabled: false, servers: ['127.0.0.1:1'] } } }
    ]) {
      const next = edited(p, changes)
      p.proxy.apply(next)
      expect(p.proxy.loaded.version).toBe(next.version)
      expect(p.proxy.pipeline.cache.store, JSON.stringify(changes)).toBe(store)
      const res = await page(p, '/page')
      expect([res.headers['x-cache'], res.body], JSON.stringify(changes)).toEqual(['HIT', 'page 1'])
    }
    expect(p.proxy.loaded.config.origin.timeoutMs).toBe(9000)
    expect(o.count).toBe(1)
  })

  it('embedded cache: a memory.maxBytes edit still takes effect (a new store with the new bound)', async () => {
    const o = await origin((n) => `page ${n} `.padEnd(4000, 'x'))
    const p = await startProxy(o.url)
    cleanups.push(() => p.close())
    await page(p, '/big')
    expect((await page(p, '/big')).headers['x-cache']).toBe('HIT')
    const store = p.proxy.pipeline.cache.store

    p.proxy.apply(edited(p, { cache: { memory: { maxBytes: 1024 } } }))
    expect(p.proxy.pipeline.cache.store).not.toBe(store)
    // 1 KiB cannot hold a 4 KB page: it is fetched every time now.
    expect((await page(p, '/big')).headers['x-cache']).toBe('MISS')
    expect((await page(p, '/big')).headers['x-cache']).toBe('MISS')
    expect(o.count).toBe(3)
  })

  it.skipIf(memcached === null)('memcached: origin.timeoutMs and leaseTtlMs rebuild the fleet lease only; memcached.prefix rebuilds the store', async () => {
    const o = await origin()
    const p = await startProxy(o.url, {
      origin: { timeoutMs: 5000 },
      cache: { memory: { maxTtlSeconds: 60 }, memcached: { servers: [memcached as string], prefix: `rs${randomBytes(4).toString('hex')}:`, timeoutMs: 1000 } }
    })
    cleanups.push(() => p.close())
    expect((await page(p, '/page')).headers['x-cache']).toBe('MISS')
    expect((await page(p, '/page')).headers['x-cache']).toBe('HIT')
    const { store, fleet } = p.proxy.pipeline.cache
    expect(fleet?.options.leaseTtlMs).toBe(5000)

    p.proxy.apply(edited(p, { origin: { timeoutMs: 9000 } }))
    expect(p.proxy.pipeline.cache.store).toBe(store)
    const fleet2 = p.proxy.pipeline.cache.fleet
    expect(fleet2).not.toBe(fleet)
    expect(fleet2?.options).toMatchObject({ leaseTtlMs: 9000, waitMs: 9000 + 1000 + 9000 })
    expect((await page(p, '/page')).headers['x-cache']).toBe('HIT')

    p.proxy.apply(edited(p, { cache: { memcached: { leaseTtlMs: 3000 } } }))
    expect(p.proxy.pipeline.cache.store).toBe(store)
    expect(p.proxy.pipeline.cache.fleet?.options.leaseTtlMs).toBe(3000)
    expect((await page(p, '/page')).headers['x-cache']).toBe('HIT')
    expect(o.count).toBe(1)

    // Another namespace in memcached: a new store, and the page is not found there. The old one stays open while a
    // follower that started on it may still be polling its lease (closing it would read as a takeover).
    const retired = p.proxy.pipeline.cache
    expect(retiredCacheCloseDelayMs(retired)).toBeGreaterThan(retired.fleet?.options.waitMs ?? Infinity)
    p.proxy.apply(edited(p, { cache: { memcached: { prefix: `rs${randomBytes(4).toString('hex')}:` } } }))
    expect(p.proxy.pipeline.cache.store).not.toBe(store)
    expect((await page(p, '/page')).headers['x-cache']).toBe('MISS')
    expect(o.count).toBe(2)
  })
})
