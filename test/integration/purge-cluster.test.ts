/**
 * Issue 15, cluster workers of one host on the embedded cache (no memcached): a purge sent to the primary's admin
 * reaches every worker's own cache over IPC, tags and soft purges included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { probe, startCli, until, type CliProcess } from '../helpers/config-file.js'

const HOST = 'site.test'

describe('workers: 2 on the embedded cache', () => {
  let origin: TestOrigin
  let cli: CliProcess

  /** A GET on a connection of its own, so the primary may hand it to either worker. */
  async function fresh (path: string): Promise<{ xCache: string, body: string }> {
    const res = await request(`${cli.url}${path}`, { headers: { host: HOST }, reset: true })
    return { xCache: String(res.headers['x-cache']), body: await res.body.text() }
  }

  beforeAll(async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=300', 'surrogate-key': 'front article-1' }, (n) => `page ${n}`))
    cli = await startCli({ workers: 2, origin: { url: origin.url, timeoutMs: 5000 } },
      { detached: true, ready: async (c) => c.children().length === 2 && await probe(`${c.url}/__corral/health`) === 200 })
    // Both workers cached the page: one origin request each.
    if (!await until(async () => { await fresh('/front'); return origin.count === 2 }, 15_000)) throw new Error(`the second worker never answered:\n${cli.output}`)
  }, 30_000)

  afterAll(async () => {
    await cli?.kill()
    await origin?.close()
  })

  it('a tag purge on the primary reaches both workers\' memory; neither serves its old copy again', async () => {
    const res = await fetch(`${cli.adminUrl}/purge?tag=article-1`, { method: 'POST' })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ purged: { kind: 'tag', values: ['article-1'] }, mode: 'hard', touched: 2, fleet: false })
    const after = await Promise.all(Array.from({ length: 6 }, async () => await fresh('/front')))
    expect(after.filter((r) => r.body === 'page 1' || r.body === 'page 2')).toEqual([])
  })

  it('a soft purge: each worker answers STALE at once, then its refreshed copy', async () => {
    const res = await fetch(`${cli.adminUrl}/purge?tag=front&soft=1`, { method: 'POST' })
    expect(await res.json()).toMatchObject({ mode: 'soft', touched: 2 })
    const before = origin.count
    const first = await fresh('/front')
    expect(first.xCache).toBe('STALE')
    await expect.poll(() => origin.count, { timeout: 5000 }).toBeGreaterThan(before)
    // At most one refresh per worker: each has its own cache.
    await expect.poll(async () => (await fresh('/front')).xCache, { timeout: 5000 }).toBe('HIT')
    expect(origin.count - before).toBeLessThanOrEqual(2)
  })
})
