import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfig, type LoadedConfig } from '../src/config/load.js'
import { resolveFlags, type Flags } from '../src/config/flags.js'
import { compileRoutes, matchRoute, type CompiledRoute } from '../src/shed-routes.js'
import { decideShed } from '../src/shed.js'
import { ShedShare } from '../src/shed-share.js'
import type { Priority } from '../src/config/types.js'

function load (extra: Record<string, unknown>, baseDir?: string): LoadedConfig {
  return parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:3000' }, ...extra }), baseDir)
}

function flagsWith (flags: Record<string, unknown>): Flags {
  return resolveFlags(load({ flags }).config)
}

function header (route: CompiledRoute, name: string): string | undefined {
  const i = route.answer.headers.indexOf(name)
  return i === -1 ? undefined : route.answer.headers[i + 1]
}

const NOT_SATURATED = { originSaturated: false, share: new ShedShare() }
const SATURATED = { originSaturated: true, share: new ShedShare() }

describe('matchRoute', () => {
  const table = compileRoutes(load({
    routes: [
      { match: '/__corral/', priority: 'critical' },
      { match: '~^/article/\\d+$', priority: 'normal' },
      { match: '/article/', priority: 'sheddable' },
      { match: '~^/api/v\\d/search', priority: 'sheddable' },
      { match: '/api/', priority: 'critical' },
      { match: '~^/api/', priority: 'sheddable' }
    ]
  }))

  it('matches by prefix and by regex, first match in config order', () => {
    expect(matchRoute(table, '/__corral/health').index).toBe(0)
    expect(matchRoute(table, '/article/42').index).toBe(1)
    expect(matchRoute(table, '/article/42/comments').index).toBe(2)
    expect(matchRoute(table, '/article/').index).toBe(2)
    // The regex at 3 precedes the prefix at 4, so it wins where both match.
    expect(matchRoute(table, '/api/v2/search?q').index).toBe(3)
    expect(matchRoute(table, '/api/v2/items').index).toBe(4)
  })

  it('a route with a host matches that host only, as keys spell it, and carries its origin group', () => {
    const hosts = compileRoutes(load({
      origins: { api: { servers: ['http://127.0.0.1:4000'] } },
      routes: [
        { match: '/', host: 'API.example.com', origin: 'api' },
        { match: '~^/v\\d/', host: 'v.example.com', priority: 'critical' },
        { match: '/' }
      ]
    }))
    expect(matchRoute(hosts, '/users', 'api.example.com')).toMatchObject({ index: 0, origin: 'api', host: 'api.example.com' })
    expect(matchRoute(hosts, '/users', 'www.example.com')).toMatchObject({ index: 2, origin: 'origin', host: null })
    expect(matchRoute(hosts, '/users')).toMatchObject({ index: 2 })
    expect(matchRoute(hosts, '/v1/x', 'v.example.com').index).toBe(1)
    expect(matchRoute(hosts, '/v1/x', 'api.example.com').index).toBe(0)
    expect(hosts.fallback.origin).toBe('origin')
  })

  it('falls back to a normal default route', () => {
    const route = matchRoute(table, '/about')
    expect(route).toBe(table.fallback)
    expect(route).toMatchObject({ index: -1, priority: 'normal', flag: null })
    expect(route.answer.status).toBe(503)
    expect(route.answer.body.toString()).toBe('Service temporarily unavailable\n')
    expect(matchRoute(compileRoutes(load({})), '/')).toMatchObject({ index: -1, priority: 'normal' })
  })

  it('prepares each shed answer once, ready to write', () => {
    const lite = '<!doctype html><p>Lite – ok</p>'
    const dir = mkdtempSync(join(tmpdir(), 'corral-shed-'))
    writeFileSync(join(dir, 'lite.html'), lite)
    const t = compileRoutes(load({
      routes: [
        { match: '/a', whenShed: { body: '<p>busy</p>', retryAfter: 30 } },
        { match: '/b', whenShed: { status: 200, body: 'plain busy' } },
        { match: '/c', whenShed: { file: 'lite.html' } },
        { match: '/d', whenShed: { body: '{}', contentType: 'application/json' } }
      ]
    }, dir))
    rmSync(dir, { recursive: true })
    const [a, b, c, d] = t.routes as [CompiledRoute, CompiledRoute, CompiledRoute, CompiledRoute]
    expect(a.answer.headers).toEqual([
      'retry-after', '30', 'content-type', 'text/html; charset=utf-8', 'content-length', '11',
      'cache-control', 'no-store', 'x-cache', 'SHED'
    ])
    expect(a.answer.status).toBe(503)
    expect(b.answer.status).toBe(200)
    expect(header(b, 'content-type')).toBe('text/plain; charset=utf-8')
    expect(header(b, 'retry-after')).toBe('5')
    expect(c.answer.body.toString()).toBe(lite)
    expect(header(c, 'content-type')).toBe('text/html; charset=utf-8')
    expect(header(c, 'content-length')).toBe(String(Buffer.byteLength(lite)))
    expect(header(d, 'content-type')).toBe('application/json')
    expect(matchRoute(t, '/c/x')).toBe(c)
  })
})

describe('decideShed', () => {
  const table = compileRoutes(load({
    flags: { comments: true, search: false },
    routes: [
      { match: '/comments', flag: 'comments', priority: 'sheddable' },
      { match: '/search', flag: 'search', priority: 'critical' },
      { match: '/health', priority: 'critical' },
      { match: '/feed', priority: 'sheddable' }
    ]
  }))
  const comments = matchRoute(table, '/comments')
  const search = matchRoute(table, '/search')
  const health = matchRoute(table, '/health')
  const feed = matchRoute(table, '/feed')
  const page = matchRoute(table, '/page')
  const calm = flagsWith({ comments: true, search: false })

  it('serves when nothing is flipped', () => {
    for (const route of [comments, health, feed, page]) {
      expect(decideShed(route, calm, NOT_SATURATED)).toEqual({ action: 'serve' })
    }
  })

  it('rejects a route whose flag is off, whatever its priority', () => {
    expect(decideShed(search, calm, NOT_SATURATED)).toEqual({ action: 'reject', reason: 'route-off' })
    const off = flagsWith({ comments: false, search: true })
    expect(decideShed(comments, off, NOT_SATURATED)).toEqual({ action: 'reject', reason: 'route-off' })
    expect(decideShed(search, off, NOT_SATURATED)).toEqual({ action: 'serve' })
  })

  it('turns every route to cache-only under cacheOnly', () => {
    const flags = flagsWith({ cacheOnly: true, comments: true, search: true })
    for (const route of [comments, search, health, feed, page]) {
      expect(decideShed(route, flags, NOT_SATURATED)).toEqual({ action: 'cache-only', reason: 'cache-only' })
    }
  })

  it('turns non-critical routes to cache-only while the origin is saturated', () => {
    expect(decideShed(feed, calm, SATURATED)).toEqual({ action: 'cache-only', reason: 'origin-saturated' })
    expect(decideShed(page, calm, SATURATED)).toEqual({ action: 'cache-only', reason: 'origin-saturated' })
    expect(decideShed(health, calm, SATURATED)).toEqual({ action: 'serve' })
  })

  it('sheds by percent as cache-only, never on critical routes', () => {
    const flags = flagsWith({ shedPercent: 100 })
    expect(decideShed(feed, flags, NOT_SATURATED)).toEqual({ action: 'cache-only', reason: 'shed-percent' })
    expect(decideShed(page, flags, NOT_SATURATED)).toEqual({ action: 'cache-only', reason: 'shed-percent' })
    expect(decideShed(health, flags, SATURATED)).toEqual({ action: 'serve' })
  })

  it('returns shared decision objects (no allocation per call)', () => {
    const flags = flagsWith({ shedPercent: 100 })
    expect(decideShed(feed, flags, NOT_SATURATED)).toBe(decideShed(page, flags, NOT_SATURATED))
    expect(decideShed(health, flags, NOT_SATURATED)).toBe(decideShed(health, calm, NOT_SATURATED))
    expect(Object.isFrozen(decideShed(health, calm, NOT_SATURATED))).toBe(true)
  })
})

describe('shedPercent is a share of all requests, lowest priority first (issue 26)', () => {
  const table = compileRoutes(load({
    routes: [{ match: '/c', priority: 'critical' }, { match: '/n', priority: 'normal' }, { match: '/s', priority: 'sheddable' }]
  }))
  const routes: Record<Priority, CompiledRoute> = {
    critical: matchRoute(table, '/c'),
    normal: matchRoute(table, '/n'),
    sheddable: matchRoute(table, '/s')
  }
  // Per 10 requests: 3 sheddable, 5 normal, 2 critical, interleaved as traffic would be.
  const MIX: readonly Priority[] = ['normal', 'sheddable', 'critical', 'normal', 'sheddable', 'normal', 'critical', 'normal', 'sheddable', 'normal']

  function run (percent: number, requests: number, share = new ShedShare()): { shed: Record<Priority, number>, seen: Record<Priority, number>, share: ShedShare } {
    const flags = flagsWith({ shedPercent: percent })
    const load = { originSaturated: false, share }
    const shed: Record<Priority, number> = { critical: 0, normal: 0, sheddable: 0 }
    const seen: Record<Priority, number> = { critical: 0, normal: 0, sheddable: 0 }
    for (let i = 0; i < requests; i++) {
      const priority = MIX[i % MIX.length] as Priority
      seen[priority]++
      if (decideShed(routes[priority], flags, load).action !== 'serve') shed[priority]++
    }
    return { shed, seen, share }
  }

  it.each([
    // P, then what a mix of 30% sheddable, 50% normal, 20% critical loses: sheddable first, then normal, never critical.
    [10, { sheddable: 1000, normal: 0, critical: 0 }, 10],
    [50, { sheddable: 3000, normal: 2000, critical: 0 }, 50],
    [90, { sheddable: 3000, normal: 5000, critical: 0 }, 80]
  ] as const)('P=%i on a mixed load sheds %o of 10000 requests, %i%% in all', (percent, expected, total) => {
    const { shed, share } = run(percent, 10_000)
    for (const priority of ['sheddable', 'normal', 'critical'] as const) expect(shed[priority]).toBeCloseTo(expected[priority], -1)
    expect((shed.sheddable + shed.normal + shed.critical) / 100).toBeCloseTo(total, 0)
    // The gauge /metrics shows reads the same share.
    expect(share.shedPercent()).toBeCloseTo(total, 0)
  })

  it('on one priority alone, P sheds P of every 100 consecutive requests, spread out', () => {
    const flags = flagsWith({ shedPercent: 20 })
    const load = { originSaturated: false, share: new ShedShare() }
    const decisions: boolean[] = []
    for (let i = 0; i < 1000; i++) decisions.push(decideShed(routes.sheddable, flags, load).action !== 'serve')
    for (const start of [0, 1, 37, 500, 900]) expect(decisions.slice(start, start + 100).filter(Boolean).length).toBe(20)
    let longestRun = 0
    let runLength = 0
    for (const shed of decisions) {
      runLength = shed ? runLength + 1 : 0
      longestRun = Math.max(longestRun, runLength)
    }
    expect(longestRun).toBe(1)
  })

  it('follows a change of mix within a few thousand requests', () => {
    const share = new ShedShare()
    const flags = flagsWith({ shedPercent: 50 })
    const load = { originSaturated: false, share }
    // All normal first: half of them go.
    for (let i = 0; i < 3000; i++) decideShed(routes.normal, flags, load)
    expect(share.shedPercent()).toBeCloseTo(50, 0)
    // Then the mixed load: the share settles at 50 again, taken from sheddable first.
    const { shed, seen } = run(50, 10_000, share)
    expect(shed.sheddable / seen.sheddable).toBeGreaterThan(0.97)
    expect(share.shedPercent()).toBeCloseTo(50, 0)
  })

  it('sheds nothing at 0, and counts the mix meanwhile so a flip takes effect at once', () => {
    const share = new ShedShare()
    expect(run(0, 1000, share).shed).toEqual({ critical: 0, normal: 0, sheddable: 0 })
    const { shed } = run(50, 100, share)
    expect(shed.sheddable).toBe(30)
    expect(shed.normal).toBeGreaterThanOrEqual(19)
    expect(shed.normal).toBeLessThanOrEqual(21)
  })
})
