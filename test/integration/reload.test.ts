/**
 * Issue 4: hot reload of the config file (an edit applied within the 1 s the contract promises; broken JSON, a wrong
 * type and an unknown key rejected with the key path while the old flags stay in force), the memcached off switch,
 * and SIGTERM draining the real CLI.
 */
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'undici'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, type Got, type TestProxy } from '../helpers/proxy.js'
import { merge, metricSum, probe, startCli, startProxyFromFile, type CliProcess, type FileProxy } from '../helpers/config-file.js'

const memcached = inject('memcached')
const HOST = 'site.test'
/** The contract: "Edits to the file take effect within 1 s without a restart". */
const CONTRACT_MS = 1000

const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close()
})

async function origin (): Promise<TestOrigin> {
  const o = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, (n) => `page ${n}`))
  cleanups.push(() => o.close())
  return o
}

async function fileProxy (o: TestOrigin, overrides: Record<string, unknown>): Promise<FileProxy> {
  const p = await startProxyFromFile(o.url, overrides)
  cleanups.push(() => p.close())
  return p
}

async function page (p: { url: string }, path: string): Promise<Got> {
  return await get(`${p.url}${path}`, { host: HOST })
}

interface FlagsBody { version: string, rejected: null | { message: string, keyPath: string }, flags: Record<string, { value: unknown }>, memcached: unknown }

async function flags (p: { adminUrl: string }): Promise<FlagsBody> {
  return await (await fetch(`${p.adminUrl}/flags`)).json() as FlagsBody
}

describe('hot reload', () => {
  it('an edit to the file takes effect within 1 s, and the change is logged', async () => {
    const o = await origin()
    const p = await fileProxy(o, { flags: { beta: { value: false, note: 'new checkout' } }, routes: [{ match: '/beta/', flag: 'beta' }] })
    expect((await page(p, '/beta/')).headers['x-cache']).toBe('SHED')
    const before = p.proxy.loaded.version

    p.file.edit({ flags: { beta: { value: true, note: 'new checkout' } } })
    await expect.poll(async () => (await page(p, '/beta/')).status, { timeout: CONTRACT_MS, interval: 20 }).toBe(200)

    expect(p.proxy.loaded.version).not.toBe(before)
    expect((await flags(p)).flags['beta']).toEqual({ value: true, note: 'new checkout' })
    expect(p.logs.find((l) => l['msg'] === 'flag changed')).toMatchObject({ flag: 'beta', from: false, to: true })
    expect(p.logs.find((l) => l['msg'] === 'config applied')).toMatchObject({ previous: before, version: p.proxy.loaded.version })
    expect(metricSum(await (await fetch(`${p.adminUrl}/metrics`)).text(), 'corral_config_reloads_total', 'result="applied"')).toBe(1)
  })

  it('an editor\'s save (write a temp file, rename it over the config) is picked up within 1 s too, and again after that', async () => {
    const o = await origin()
    const p = await fileProxy(o, {})
    let n = 0
    // A new path on every try, so a page cached by an earlier try cannot answer.
    const next = async (): Promise<string | undefined> => (await page(p, `/p${n++}`)).headers['x-cache']
    expect(await next()).toBe('MISS')
    p.file.saveByRename({ ...p.file.config, flags: { cacheOnly: true } })
    await expect.poll(next, { timeout: CONTRACT_MS, interval: 20 }).toBe('SHED')
    const originBefore = o.count
    // The watch survives the rename (the directory is watched, not the replaced inode).
    p.file.saveByRename({ ...p.file.config, flags: { cacheOnly: false } })
    await expect.poll(next, { timeout: CONTRACT_MS, interval: 20 }).toBe('MISS')
    expect(o.count).toBe(originBefore + 1)
  })

  it.each([
    { what: 'broken JSON', bad: '{\n  "origin": {\n    "url": "http://127.0.0.1:1",\n', keyPath: '', message: /^invalid JSON at line 4, column 1: .*position \d+/ },
    { what: 'a wrong type', bad: { origin: { timeoutMs: 'fast' } }, keyPath: 'origin.timeoutMs', message: /^origin\.timeoutMs: must be a whole number \(got "fast"\)/ },
    { what: 'a wrong type for a flag', bad: { flags: { cacheOnly: 'yes' } }, keyPath: 'flags.cacheOnly', message: /^flags\.cacheOnly: must be true or false or an object \(got "yes"\)/ },
    { what: 'an unknown key', bad: { cache: { memroy: { maxBytes: 1024 } } }, keyPath: 'cache.memroy', message: /^cache\.memroy: unknown key; did you mean "memory"\?/ },
    { what: 'a misspelt flag (issue 26)', bad: { flags: { shedPrecent: 50 } }, keyPath: 'flags.shedPrecent', message: /^flags\.shedPrecent: unknown flag; did you mean "shedPercent"\?/ },
    { what: 'an unknown key in a route', bad: { routes: [{ match: '/beta/', flag: 'beta', prioirty: 'critical' }] }, keyPath: 'routes[0].prioirty', message: /^routes\[0\]\.prioirty: unknown key/ }
  ])('$what is rejected with the key path in the message, and the old flags stay in force', async ({ bad, keyPath, message }) => {
    const o = await origin()
    const p = await fileProxy(o, { flags: { cacheOnly: true, beta: false }, routes: [{ match: '/beta/', flag: 'beta' }] })
    const good = p.file.config
    const version = p.proxy.loaded.version

    if (typeof bad === 'string') p.file.writeText(bad)
    // The rejected edit would also have switched the flags: it must not.
    else p.file.edit(merge({ flags: { cacheOnly: false, beta: true } }, bad))
    await expect.poll(async () => (await flags(p)).rejected, { timeout: 5000, interval: 20 }).not.toBeNull()

    const report = await flags(p)
    expect(report.rejected?.keyPath).toBe(keyPath)
    expect(report.rejected?.message).toMatch(message)
    expect(report.version).toBe(version)
    expect(report.flags['cacheOnly']?.value).toBe(true)
    // The old flags still rule the traffic: cacheOnly sheds a miss, the beta route stays off.
    expect((await page(p, '/miss')).headers['x-cache']).toBe('SHED')
    expect((await page(p, '/beta/')).headers['cache-status']).toBe('corral; detail=shed-route-off')
    expect(o.count).toBe(0)
    expect(p.logs.find((l) => l['msg'] === 'config edit rejected; the last good config stays in force')).toMatchObject({ key: keyPath })
    expect(metricSum(await (await fetch(`${p.adminUrl}/metrics`)).text(), 'corral_config_reloads_total', 'result="rejected"')).toBe(1)

    // A good edit then applies and clears the refusal.
    p.file.write({ ...good, flags: { cacheOnly: false, beta: true } })
    await expect.poll(async () => (await flags(p)).rejected, { timeout: 5000, interval: 20 }).toBeNull()
    expect((await page(p, '/miss')).headers['x-cache']).toBe('MISS')
  })

  it.skipIf(memcached === null)('cache.memcached.enabled: false stops using memcached: pages another proxy stored there are no longer seen', async () => {
    const o = await origin()
    const cache = { memory: { maxTtlSeconds: 0 }, memcached: { servers: [memcached as string], prefix: `reload${randomBytes(4).toString('hex')}:`, timeoutMs: 1000 } }
    const other: TestProxy = await startProxy(o.url, { cache, log: { level: 'warn', access: false } })
    cleanups.push(() => other.close())
    const p = await fileProxy(o, { cache })
    expect((await page(other, '/one')).headers['x-cache']).toBe('MISS')
    expect((await page(p, '/one')).headers['x-cache']).toBe('HIT')
    expect(o.count).toBe(1)

    p.file.edit({ cache: { memcached: { enabled: false } } })
    await expect.poll(async () => (await flags(p)).memcached, { timeout: 5000, interval: 20 }).toBe('off')
    expect((await page(other, '/two')).headers['x-cache']).toBe('MISS')
    expect((await page(p, '/two')).headers['x-cache']).toBe('MISS')
    expect((await page(p, '/one')).headers['x-cache']).toBe('MISS')
    expect(o.requests.map((r) => r.url)).toEqual(['/one', '/two', '/two', '/one'])
    // Switched back on, the shared copies are seen again.
    p.file.edit({ cache: { memcached: { enabled: true } } })
    await expect.poll(async () => (await flags(p)).memcached, { timeout: 5000, interval: 20 }).toEqual([memcached])
    expect((await page(other, '/three')).headers['x-cache']).toBe('MISS')
    expect((await page(p, '/three')).headers['x-cache']).toBe('HIT')
  })
})

describe('SIGTERM (the real CLI)', () => {
  it('drains: health turns 503, new connections are refused, the request in flight completes, the process exits 0', async () => {
    const o = await origin()
    const cli: CliProcess = await startCli({ origin: { url: o.url, timeoutMs: 10_000 }, log: { level: 'info', access: true }, listen: { keepAliveTimeoutMs: 60_000 } })
    cleanups.push(() => cli.kill())
    expect(await probe(`${cli.adminUrl}/health`)).toBe(200)

    o.hold()
    // A client that keeps its connection open: the drain must close it once its response is done, not wait for it.
    const client = new Agent({ connections: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 })
    cleanups.push(() => client.close())
    const inFlight = request(`${cli.url}/slow`, { dispatcher: client }).then(async (res) => ({ status: res.statusCode, body: await res.body.text() }))
    await o.arrived(1)
    cli.child.kill('SIGTERM')

    await expect.poll(async () => await probe(`${cli.adminUrl}/health`), { timeout: 5000, interval: 20 }).toBe(503)
    // Still held at the origin, still draining: a new client is turned away (refused, or told 503). A new client
    // means a new connection: one kept alive from before the signal is still answered, with Connection: close.
    expect(o.inFlight).toBe(1)
    const newClient = new Agent({ connections: 1 })
    cleanups.push(() => newClient.close())
    expect([0, 503]).toContain(await probe(`${cli.url}/new`, { dispatcher: newClient } as unknown as RequestInit))
    expect(o.count).toBe(1)

    o.release()
    expect(await inFlight).toEqual({ status: 200, body: 'page 1' })
    expect(await cli.exited).toEqual({ code: 0, signal: null })
    // The shutdown is logged, and nothing buffered is lost on the way out.
    expect(cli.output).toContain('"msg":"draining"')
    expect(cli.output).toContain('"msg":"stopped"')
  })
})
