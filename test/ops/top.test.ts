/** `corral top` (issue 26, item 7): frames from real /metrics of real proxies; --once for scripts. */
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleetFrame, frameOf, parseMetrics, snapshotOf } from '../../src/ops/top-frame.js'
import { runTop } from '../../src/ops/top.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'
import { get, startProxy, type TestProxy } from '../helpers/proxy.js'

let origin: TestOrigin
let a: TestProxy
let b: TestProxy

beforeAll(async () => {
  origin = await startOrigin((req, res) => {
    const cacheable = req.url?.startsWith('/page') === true
    res.writeHead(200, { 'cache-control': cacheable ? 'max-age=60' : 'no-store' }).end('x')
  })
  a = await startProxy(origin.url, { flags: { shedPercent: 20 }, routes: [{ match: '/page', priority: 'sheddable' }] })
  b = await startProxy(origin.url)
})

afterAll(async () => {
  await a.close()
  await b.close()
  await origin.close()
})

async function snapshot (p: TestProxy, at: number): Promise<ReturnType<typeof snapshotOf>> {
  return snapshotOf(parseMetrics(await (await fetch(`${p.adminUrl}/metrics`)).text()), at)
}

describe('corral top frames', () => {
  it('reads requests/s, hit ratio, origin requests/s by reason, p99, shed against the flag, origin state', async () => {
    const before = await snapshot(b, 0)
    for (let i = 0; i < 3; i++) await get(`${b.url}/page/${i}`)
    for (let r = 0; r < 9; r++) await get(`${b.url}/page/${r % 3}`)
    // An uncacheable page: its first answer is a MISS (a fill that turned out no-store), the rest PASS.
    for (let i = 0; i < 4; i++) await get(`${b.url}/account`)
    const after = await snapshot(b, 2000)
    const frame = frameOf(before, after)
    // 16 requests over the 2 s the snapshots say passed.
    expect(frame.rps).toBe(8)
    // 13 answers could have come from cache (9 did); the 3 passes are left out of the ratio.
    expect(frame.hitRatio).toBeCloseTo(9 / 13, 6)
    expect(frame.originRps).toEqual({ miss: 2, pass: 1.5 })
    expect(frame.p99Ms).toBeGreaterThan(0)
    expect(frame.shedFlag).toBe(0)
    expect([frame.originsUp, frame.originsTotal, frame.memcachedTotal]).toEqual([1, 1, 0])
  })

  it('sums a fleet: rates added, hit ratio weighted by traffic, the worst p99', () => {
    const f = { rps: 100, hitRatio: 0.9, originRps: { miss: 1 }, p99Ms: 5, shedShare: 0, shedFlag: 0, memcachedUp: 1, memcachedTotal: 1, originsUp: 1, originsTotal: 2 }
    const g = { ...f, rps: 300, hitRatio: 0.5, originRps: { miss: 2, pass: 4 }, p99Ms: 10 }
    expect(fleetFrame([f, g])).toEqual({ rps: 400, hitRatio: 0.6, originRps: { miss: 3, pass: 4 }, p99Ms: 10, shedShare: 0, shedFlag: 0, memcachedUp: 2, memcachedTotal: 2, originsUp: 2, originsTotal: 4 })
  })
})

describe('corral top --once', () => {
  it('prints a row per proxy and a fleet row; an --admin that does not answer is named, exit 1', async () => {
    let out = ''
    const io = { stdout: { write: (s: string) => { out += s } }, stderr: { write: () => {} }, env: {} }
    for (let i = 0; i < 5; i++) await get(`${a.url}/page/s${i}`)
    expect(await runTop(['--admin', a.adminUrl, '--admin', b.adminUrl, '--once', '--interval', '200'], io)).toBe(0)
    const lines = out.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^corral top {2}\d\d:\d\d:\d\d {2}every 0.2s$/)
    expect(lines[1]).toMatch(/^proxy\s+req\/s\s+hit%\s+p99 ms\s+origin\/s \(fill refr pass\)\s+shed \(flag\)\s+memcached\s+origins$/)
    expect(lines[2]).toContain(a.adminUrl)
    // shedPercent 20 on a: the share actually shed against the flag.
    expect(lines[2]).toMatch(/\d+\.\d% of 20%/)
    expect(lines[2]).toMatch(/off\s+1\/1 up$/)
    expect(lines[3]).toContain(b.adminUrl)
    expect(lines[4]).toMatch(/^fleet \(2 of 2\)/)

    out = ''
    const dead = createServer()
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => dead.close(() => resolve()))
    expect(await runTop(['--admin', b.adminUrl, '--admin', deadUrl, '--once', '--interval', '100'], io)).toBe(1)
    expect(out.split('\n').find((l) => l.startsWith(deadUrl))).toMatch(/ +no answer: ECONNREFUSED$/)
    expect(out).toMatch(/^fleet \(1 of 2\)/m)
  })

  it('refuses a missing --admin or a bad interval (exit 2)', async () => {
    let err = ''
    const io = { stdout: { write: () => {} }, stderr: { write: (s: string) => { err += s } }, env: {} }
    expect(await runTop(['--once'], io)).toBe(2)
    expect(err).toContain('--admin is required')
    expect(await runTop(['--admin', a.adminUrl, '--interval', '5'], io)).toBe(2)
  })
})
