/**
 * `corral spike` against a real corral in front of a counting origin: thresholds on what reached the origin and on
 * the hit ratio, abortGrace, a fleet of two proxies behind a balancer, --workers, and the exit codes.
 */
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { runSpikeCli } from '../../src/spike/cli.js'
import type { SpikeResult } from '../../src/spike/run.js'
import { answer, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'

let origin: TestOrigin
let proxy: TestProxy
let dir: string
const cached = answer(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' }, (n) => `page ${n}`)
const uncached = answer(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }, 'fresh every time')

beforeAll(async () => {
  origin = await startOrigin(cached)
  proxy = await startProxy(origin.url, { log: { level: 'warn', access: false } })
  dir = await mkdtemp(join(tmpdir(), 'corral-spike-origin-'))
})

afterAll(async () => {
  await proxy.close()
  await origin.close()
  await rm(dir, { recursive: true, force: true })
})

beforeEach(() => { origin.setHandler(cached) })

function capture () {
  let out = ''
  let err = ''
  return {
    io: { stdout: { write: (s: string) => { out += s } }, stderr: { write: (s: string) => { err += s } } },
    out: () => out,
    err: () => err
  }
}

async function spike (name: string, scenario: object, args: string[]): Promise<{ code: number, out: string, err: string, report: SpikeResult | undefined }> {
  const path = join(dir, `${name}.json`)
  await writeFile(path, JSON.stringify(scenario))
  const c = capture()
  const code = await runSpikeCli(['--scenario', path, '--report', join(dir, name), '--quiet', ...args], c.io)
  const report = await readFile(join(dir, name, 'report.json'), 'utf8').then((t) => JSON.parse(t) as SpikeResult, () => undefined)
  return { code, out: c.out(), err: c.err(), report }
}

describe('origin and hit-ratio thresholds', () => {
  it('pass when the cache holds the origin down: exit 0, origin requests by reason match the origin\'s own count', async () => {
    const before = origin.count
    const { code, out, report } = await spike('holds', {
      // Three pages, so the warm stage's dozens of requests fetch every one of them (a page left cold would be a
      // miss in steady): (2/3)^50 is the chance one is left.
      requests: [{ path: '/hold/{1..3}', pick: 'zipf', zipfExponent: 0.5 }],
      stages: [
        { name: 'warm', duration: '1s', connections: 4 },
        { name: 'steady', duration: '1500ms', connections: 4, thresholds: { minHitRatio: 0.95, maxOriginRps: 1, maxOriginRequests: 0 } }
      ],
      // Three pages, each fetched once (corral coalesces the rest).
      thresholds: { maxOriginRequests: 3 }
    }, ['--target', proxy.url, '--admin', proxy.adminUrl])
    expect(out).toMatch(/^ok: every threshold held \(4 checked\)$/m)
    expect(code).toBe(0)
    const [warm, steady] = report!.stages
    const fetched = origin.count - before
    expect(fetched).toBeGreaterThan(0)
    expect(fetched).toBe(3)
    expect((warm!.originRequests ?? 0) + (steady!.originRequests ?? 0)).toBe(fetched)
    expect(Object.values(warm!.originByReason ?? {}).reduce((a, b) => a + b, 0)).toBe(warm!.originRequests)
    expect(warm!.originByReason?.miss).toBeGreaterThan(0)
    expect(steady).toMatchObject({ originRequests: 0, originRps: 0 })
    expect(steady!.hitRatio).toBeGreaterThanOrEqual(0.95)
    // The per-path breakdown keeps the template as written.
    expect(report!.paths.map((p) => p.path)).toEqual(['/hold/{1..3}'])
    expect(report!.paths[0]!.requests).toBe(warm!.requests + steady!.requests)
    expect(report!.paths[0]!.cache.HIT).toBeGreaterThan(0)
    // Every second belongs to one stage and starts at or after the stage's start (where its marker sits).
    for (const s of report!.stages) {
      const seconds = report!.timeline.filter((b) => b.stage === s.name)
      expect(seconds[0]).toMatchObject({ t: s.startT, second: 0 })
      for (const b of seconds) expect(b.t).toBeGreaterThanOrEqual(s.startT)
    }
    const html = await readFile(join(dir, 'holds', 'report.html'), 'utf8')
    expect(html).toContain(`class="stage-marker" data-t="${steady!.startT}"`)
    expect(html).toContain('Origin requests per second, by reason')
  })

  it('fail when every request reaches the origin: exit 1, the verdict names the threshold, stage, second and worst paths', async () => {
    origin.setHandler(uncached)
    const { code, out, report } = await spike('floods', {
      requests: [{ path: '/flood/a', weight: 3 }, { path: '/flood/b' }],
      stages: [{ name: 'spike', duration: '5s', connections: 4 }, { name: 'never', duration: '5s', connections: 4 }],
      thresholds: { maxOriginRps: 5 }
    }, ['--target', proxy.url, '--admin', proxy.adminUrl])
    expect(code).toBe(1)
    expect(report).toMatchObject({ ok: false, aborted: 'threshold' })
    expect(report!.stages.map((s) => [s.name, s.completed])).toEqual([['spike', false]])
    const breach = report!.thresholds.find((t) => t.name === 'spike.maxOriginRps')!
    expect(breach.ok).toBe(false)
    expect(breach.value).toBeGreaterThan(5)
    // The first origin figure comes from the scrape started at second 1, so the breach is seen at second 2 (later
    // only if that scrape took over a second on a loaded machine).
    expect(breach.stageSecond).toBeGreaterThanOrEqual(2)
    expect(report!.abortReason).toBe(`spike.maxOriginRps ${Math.round(breach.value! * 1000) / 1000} > 5 (second ${breach.stageSecond} of spike)`)
    expect(out).toContain(`\nFAILED: ${report!.abortReason}\n`)
    expect(out).toMatch(/^worst paths: \/flood\/(a|b) \(p99 /m)
    expect(report!.verdict.worstPaths.map((p) => p.path).sort()).toEqual(['/flood/a', '/flood/b'])
    expect((report!.stages[0]!.cache.PASS ?? 0) + (report!.stages[0]!.cache.MISS ?? 0)).toBe(report!.stages[0]!.requests)
  })

  it('a breach inside abortGrace is reported, not aborted on; the stage still fails on its final figure', async () => {
    origin.setHandler(uncached)
    const { code, out, report } = await spike('graced', {
      requests: [{ path: '/graced' }],
      stages: [{ name: 'spike', duration: '3s', connections: 2 }, { name: 'never', duration: '3s', connections: 2 }],
      thresholds: { maxOriginRequests: 1, abortGrace: '1m' }
    }, ['--target', proxy.url, '--admin', proxy.adminUrl])
    expect(code).toBe(1)
    // The stage ran to its end: the grace kept it going; its final figure then stopped the run.
    expect(report!.stages.map((s) => [s.name, s.completed])).toEqual([['spike', true]])
    expect(report!.graceBreaches.map((t) => t.name)).toEqual(['spike.maxOriginRequests'])
    const second = report!.graceBreaches[0]!.stageSecond
    expect(second).toBeGreaterThanOrEqual(2)
    expect(report!.verdict.graced[0]).toMatch(new RegExp(`^spike\\.maxOriginRequests \\d+ > 1 \\(second ${second} of spike\\), inside abortGrace$`))
    // The final result keeps the second it first breached.
    expect(report!.thresholds.find((t) => t.name === 'spike.maxOriginRequests')).toMatchObject({ ok: false, stageSecond: second })
    expect(out).toMatch(/^note: spike\.maxOriginRequests .* inside abortGrace$/m)
  })

  it('the verdict names the second of the breach that aborted, not an earlier one inside abortGrace (issue 26)', async () => {
    origin.setHandler(uncached)
    const { code, report } = await spike('grace-then-abort', {
      requests: [{ path: '/grace-abort' }],
      stages: [{ name: 'spike', duration: '10s', connections: 2 }],
      thresholds: { maxOriginRequests: 1, abortGrace: '2s' }
    }, ['--target', proxy.url, '--admin', proxy.adminUrl])
    expect(code).toBe(1)
    const graced = report!.graceBreaches.find((t) => t.name === 'spike.maxOriginRequests')!
    expect(graced.stageSecond).toBeLessThanOrEqual(2)
    const breach = report!.thresholds.find((t) => t.name === 'spike.maxOriginRequests')!
    // The first check past the 2 s grace aborts: second 3 (later only if a scrape ran long on a loaded machine).
    expect(breach.stageSecond).toBeGreaterThan(2)
    expect(report!.abortReason).toMatch(new RegExp(`\\(second ${breach.stageSecond} of spike\\)$`))
    expect(report!.stages[0]!.durationMs / 1000).toBeGreaterThanOrEqual(breach.stageSecond! - 0.5)
  })

  it('maxOriginFillRps counts fills and refreshes without passes; maxOriginPassRps counts passes (issue 26)', async () => {
    // no-store: after the first miss, corral remembers the page as uncacheable and passes every request.
    origin.setHandler(uncached)
    const held = await spike('fills-held', {
      requests: [{ path: '/uncacheable' }],
      stages: [{ name: 'spike', duration: '2s', connections: 2, thresholds: { maxOriginFillRps: 5 } }]
    }, ['--target', proxy.url, '--admin', proxy.adminUrl])
    expect(held.code).toBe(0)
    const stage = held.report!.stages[0]!
    expect(stage.originByReason?.pass ?? 0).toBeGreaterThan(20)
    expect(stage.originRps ?? 0).toBeGreaterThan(5)
    expect(held.report!.thresholds).toMatchObject([{ name: 'spike.maxOriginFillRps', ok: true }])
    // The stage's summary line shows the origin load by kind.
    expect(held.out).toMatch(new RegExp(`origin requests ${stage.originRequests ?? -1} \\([\\d.]+/s; fills \\d+, refreshes \\d+, passes ${stage.originByReason?.pass ?? -1}\\)`))
    const passes = await spike('passes', {
      requests: [{ path: '/uncacheable' }],
      stages: [{ name: 'spike', duration: '3s', connections: 2, thresholds: { maxOriginPassRps: 5 } }]
    }, ['--target', proxy.url, '--admin', proxy.adminUrl])
    expect(passes.code).toBe(1)
    expect(passes.report!.abortReason).toMatch(/^spike\.maxOriginPassRps \d+(\.\d+)? > 5 \(second \d+ of spike\)$/)
  })

  it('checks every --admin before any load: one that does not answer is exit 2, named (issue 26)', async () => {
    const dead = createServer()
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => dead.close(() => resolve()))
    const before = origin.count
    const { code, err, report } = await spike('dead-admin', {
      requests: [{ path: '/never-sent' }],
      stages: [{ name: 'a', duration: '2s', connections: 1 }]
    }, ['--target', proxy.url, '--admin', proxy.adminUrl, '--admin', deadUrl])
    expect(code).toBe(2)
    expect(err).toBe(`corral spike: --admin ${deadUrl}: ECONNREFUSED; no load was sent\n`)
    expect(report).toBeUndefined()
    expect(origin.count).toBe(before)
    // Not corral: a server that answers without corral metrics.
    const { code: code2, err: err2 } = await spike('not-corral', {
      requests: [{ path: '/never-sent' }],
      stages: [{ name: 'a', duration: '2s', connections: 1 }]
    }, ['--target', proxy.url, '--admin', origin.url])
    expect(code2).toBe(2)
    expect(err2).toContain(`--admin ${origin.url}: answered`)
  })

  it('minHitRatio fails a stage the cache cannot answer', async () => {
    origin.setHandler(uncached)
    const { code, report } = await spike('cold', {
      requests: [{ path: '/cold' }],
      stages: [{ name: 'cold', duration: '1500ms', connections: 2, thresholds: { minHitRatio: 0.5 } }]
    }, ['--target', proxy.url])
    expect(code).toBe(1)
    expect(report!.thresholds).toMatchObject([{ name: 'cold.minHitRatio', value: 0, ok: false }])
  })

  it.each([
    [{ thresholds: { maxOriginRps: 10 } }, 'thresholds.maxOriginRps'],
    [{ stages: [{ name: 'a', duration: '1s', connections: 1, thresholds: { maxOriginRequests: 3 } }] }, 'stages[0].thresholds.maxOriginRequests']
  ])('a threshold needing --admin without one is a usage error naming it (%j)', async (extra, key) => {
    const before = origin.count
    const { code, err, report } = await spike('no-admin', {
      requests: [{ path: '/never' }],
      stages: [{ name: 'a', duration: '1s', connections: 1 }],
      ...extra
    }, ['--target', proxy.url])
    expect(code).toBe(2)
    expect(err).toContain(`${key} needs --admin`)
    expect(report).toBeUndefined()
    expect(origin.count).toBe(before)
  })
})

describe('replaying a pathsFile', () => {
  it('reads it beside the scenario and breaks the run down by its lines', async () => {
    await writeFile(join(dir, 'top-urls.txt'), '# from access.log\n/replay/a\n/replay/a\n/replay/a\n/replay/b\n')
    const seenBefore = origin.requests.length
    const { code, report } = await spike('replay', {
      requests: [{ pathsFile: 'top-urls.txt' }],
      stages: [{ name: 'replay', duration: '1s', connections: 2 }],
      thresholds: { maxOriginRequests: 2 }
    }, ['--target', proxy.url, '--admin', proxy.adminUrl])
    expect(code).toBe(0)
    expect(origin.requests.slice(seenBefore).map((r) => r.url).sort()).toEqual(['/replay/a', '/replay/b'])
    const rows = Object.fromEntries(report!.paths.map((p) => [p.path, p.requests]))
    expect(Object.keys(rows).sort()).toEqual(['/replay/a', '/replay/b'])
    // Three lines of four are /replay/a: about three requests in four go there.
    expect(rows['/replay/a']! / (rows['/replay/a']! + rows['/replay/b']!)).toBeGreaterThan(0.6)
  })
})

describe('a fleet behind a balancer', () => {
  let second: TestProxy
  let balancer: Server
  let balancerUrl: string

  beforeAll(async () => {
    second = await startProxy(origin.url, { log: { level: 'warn', access: false } })
    // Round robin over the two proxies, one request at a time: what a load balancer in front of a fleet does.
    const backends = [new URL(proxy.url), new URL(second.url)]
    let next = 0
    balancer = createServer((req, res) => {
      const to = backends[next++ % backends.length]!
      const upstream = httpRequest({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      })
      upstream.on('error', () => { res.destroy() })
      req.pipe(upstream)
    })
    await new Promise<void>((resolve) => balancer.listen(0, '127.0.0.1', resolve))
    balancerUrl = `http://127.0.0.1:${(balancer.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    balancer.closeAllConnections()
    await new Promise((resolve) => balancer.close(resolve))
    await second.close()
  })

  it('sums origin requests over every --admin', async () => {
    origin.setHandler(uncached)
    const before = origin.count
    const { code, report } = await spike('fleet', {
      requests: [{ path: '/fleet/{1..5}' }],
      stages: [{ name: 'both', duration: '1s', connections: 2 }],
      thresholds: { maxOriginRequests: 1_000_000 }
    }, ['--target', balancerUrl, '--admin', proxy.adminUrl, '--admin', second.adminUrl, '--workers', '2'])
    expect(code).toBe(0)
    const reached = origin.count - before
    expect(report!.workers).toBe(2)
    // Both proxies sent requests to the origin, and the report counts them all (one --admin would see about half).
    expect(report!.stages[0]!.originRequests).toBe(reached)
    // A request in flight when autocannon stops reaches the origin but gets no response counted (one per connection).
    expect(report!.stages[0]!.requests).toBeGreaterThanOrEqual(reached - 2)
    expect(report!.paths[0]).toMatchObject({ path: '/fleet/{1..5}', requests: report!.stages[0]!.requests })
    expect(report!.timeline.some((s) => s.generatorBusy !== undefined)).toBe(true)
  })
})
