/**
 * Issue 3 (multi-core): `corral serve` with `"workers": 2` as a real process group sharing one port and one
 * memcached. Metrics aggregated by the primary, a killed worker replaced, purge broadcast, SIGTERM stops them all.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { request } from 'undici'
import { get, type Got } from '../helpers/proxy.js'
import { metricSum, probe, startCli, until, type CliProcess } from '../helpers/config-file.js'

const memcached = inject('memcached')
const HOST = 'site.test'

describe.skipIf(memcached === null)('workers: 2', () => {
  let origin: TestOrigin
  let cli: CliProcess

  /** Aggregated metrics; fails (and is polled again) while a worker is not answering the primary's scrape yet. */
  async function clusterMetrics (): Promise<string | null> {
    try {
      const res = await fetch(`${cli.adminUrl}/metrics`, { signal: AbortSignal.timeout(1000) })
      const text = await res.text()
      return res.status === 200 ? text : null
    } catch {
      return null
    }
  }

  /** A GET on a connection of its own (closed after the response), so the primary may hand it to either worker. */
  async function fresh (path: string): Promise<Got> {
    const res = await request(`${cli.url}${path}`, { headers: { host: HOST }, reset: true })
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(res.headers)) headers[k] = String(v)
    return { status: res.statusCode, headers, body: await res.body.text() }
  }

  beforeAll(async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=300' }, (n) => `page ${n}`))
    cli = await startCli({
      workers: 2,
      origin: { url: origin.url, timeoutMs: 5000 },
      cache: { memory: { maxTtlSeconds: 0 }, memcached: { servers: [memcached as string], prefix: `cluster${randomBytes(4).toString('hex')}:`, timeoutMs: 1000 } }
    }, { detached: true, ready: async (c) => c.children().length === 2 && await probe(`${c.url}/__corral/health`) === 200 })
    // Both workers answer the primary's metrics scrape: both are up.
    if (!await until(async () => await clusterMetrics() !== null, 15_000)) throw new Error(`the workers never answered a metrics scrape:\n${cli.output}`)
  }, 30_000)

  afterAll(async () => {
    await cli?.kill()
    await origin?.close()
  })

  it('serves requests (MISS, then HITs on fresh connections), and /metrics sums both workers\' counts', async () => {
    const before = metricSum(await clusterMetrics() ?? '', 'corral_requests_total')
    const first = await get(`${cli.url}/shared`, { host: HOST })
    expect([first.status, first.headers['x-cache'], first.body]).toEqual([200, 'MISS', 'page 1'])
    // A fresh connection each: the primary hands them to the workers in turn, and every one is a hit.
    for (let i = 0; i < 8; i++) {
      const res = await fresh('/shared')
      expect([res.status, res.headers['x-cache'], res.body]).toEqual([200, 'HIT', 'page 1'])
    }
    expect(origin.count).toBe(1)
    const text = await clusterMetrics()
    expect(metricSum(text ?? '', 'corral_requests_total') - before).toBe(9)
    expect(metricSum(text ?? '', 'corral_requests_total', 'cache="HIT"')).toBe(8)
  })

  it('replaces a killed worker, and requests keep succeeding meanwhile', async () => {
    const workers = cli.children()
    expect(workers).toHaveLength(2)
    const victim = workers[0] as number
    process.kill(victim, 'SIGKILL')
    await expect.poll(() => cli.children().includes(victim), { timeout: 5000, interval: 20 }).toBe(false)
    // Gone from the process table is not yet gone from the primary's round robin: a connection accepted before the
    // primary handles the exit can be handed to the dead worker and is lost (node:cluster). The primary logs the
    // death once it has taken the worker out of the rotation.
    await expect.poll(() => cli.output.includes('worker died; starting a replacement'), { timeout: 5000, interval: 20 }).toBe(true)
    for (let i = 0; i < 4; i++) {
      expect((await fresh(`/during-${i}`)).status).toBe(200)
    }
    await expect.poll(() => cli.children().length, { timeout: 10_000, interval: 50 }).toBe(2)
    expect(cli.children()).not.toContain(victim)
    // The replacement is in service: the scrape reaches both workers again, and requests succeed.
    await expect.poll(clusterMetrics, { timeout: 15_000, interval: 100 }).not.toBeNull()
    for (let i = 0; i < 4; i++) {
      const res = await fresh('/shared')
      expect([res.status, res.headers['x-cache'], res.body]).toEqual([200, 'HIT', 'page 1'])
    }
  })

  it('POST /purge on the primary\'s admin evicts the page from every worker and memcached', async () => {
    const cached = await fresh('/purge-me')
    expect(cached.headers['x-cache']).toBe('MISS')
    expect((await fresh('/purge-me')).headers['x-cache']).toBe('HIT')
    expect((await fresh('/purge-me')).headers['x-cache']).toBe('HIT')
    const res = await fetch(`${cli.adminUrl}/purge?url=${encodeURIComponent(`http://${HOST}/purge-me`)}`, { method: 'POST' })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    const after = await fresh('/purge-me')
    expect(after.headers['x-cache']).toBe('MISS')
    expect(after.body).not.toBe(cached.body)
    // Whichever worker answers next, the page now comes from the new copy.
    expect((await fresh('/purge-me')).body).toBe(after.body)
    // Issue 26: the primary lists the records in force, from a worker.
    const listed = await (await fetch(`${cli.adminUrl}/purges`)).json() as { count: number, records: Array<{ kind: string, value: string, mode: string }> }
    expect(listed.records.map((r) => [r.kind, r.value, r.mode])).toContainEqual(['url', `${HOST}/purge-me`, 'hard'])
  })

  it('SIGTERM to the whole process group (systemd, a terminal) drains: the request in flight completes, all exit with code 0', async () => {
    const workers = cli.children()
    expect(workers).toHaveLength(2)
    origin.hold()
    const inFlight = fresh('/in-flight').catch((err: unknown) => ({ status: 0, headers: {}, body: String(err) }))
    await origin.arrived(origin.count + 1)
    // Each worker gets SIGTERM twice: from the group-wide signal and from the primary passing it on.
    process.kill(-cli.pid, 'SIGTERM')
    await expect.poll(async () => await probe(`${cli.adminUrl}/health`), { timeout: 5000, interval: 20 }).toBe(503)
    origin.release()
    expect(await inFlight).toMatchObject({ status: 200, headers: { 'x-cache': 'MISS' } })
    expect(await cli.exited).toEqual({ code: 0, signal: null })
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow()
    expect(await probe(`${cli.url}/__corral/health`)).toBe(0)
  })
})
