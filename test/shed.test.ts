import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfig, type LoadedConfig } from '../src/config/load.js'
import { resolveFlags, type Flags } from '../src/config/flags.js'
import { compileRoutes, matchRoute, type CompiledRoute } from '../src/shed-routes.js'
import { decideShed, isShedTicket, type ShedDecision } from '../src/shed.js'
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

const NOT_SATURATED = { originSaturated: false }
const SATURATED = { originSaturated: true }

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
      expect(decideShed(route, calm, NOT_SATURATED, 0)).toEqual({ action: 'serve' })
    }
  })

  it('rejects a route whose flag is off, whatever its priority', () => {
    expect(decideShed(search, calm, NOT_SATURATED, 1)).toEqual({ action: 'reject', reason: 'route-off' })
    const off = flagsWith({ comments: false, search: true })
    expect(decideShed(comments, off, NOT_SATURATED, 1)).toEqual({ action: 'reject', reason: 'route-off' })
    expect(decideShed(search, off, NOT_SATURATED, 1)).toEqual({ action: 'serve' })
  })

  it('turns every route to cache-only under cacheOnly', () => {
    const flags = flagsWith({ cacheOnly: true, comments: true, search: true })
    for (const route of [comments, search, health, feed, page]) {
      expect(decideShed(route, flags, NOT_SATURATED, 3)).toEqual({ action: 'cache-only', reason: 'cache-only' })
    }
  })

  it('turns non-critical routes to cache-only while the origin is saturated', () => {
    expect(decideShed(feed, calm, SATURATED, 0)).toEqual({ action: 'cache-only', reason: 'origin-saturated' })
    expect(decideShed(page, calm, SATURATED, 0)).toEqual({ action: 'cache-only', reason: 'origin-saturated' })
    expect(decideShed(health, calm, SATURATED, 0)).toEqual({ action: 'serve' })
  })

  it('sheds by percent as cache-only, never on critical routes', () => {
    const flags = flagsWith({ shedPercent: 100 })
    expect(decideShed(feed, flags, NOT_SATURATED, 0)).toEqual({ action: 'cache-only', reason: 'shed-percent' })
    expect(decideShed(page, flags, NOT_SATURATED, 0)).toEqual({ action: 'cache-only', reason: 'shed-percent' })
    expect(decideShed(health, flags, SATURATED, 0)).toEqual({ action: 'serve' })
  })

  it('returns shared decision objects (no allocation per call)', () => {
    const flags = flagsWith({ shedPercent: 100 })
    expect(decideShed(feed, flags, NOT_SATURATED, 0)).toBe(decideShed(page, flags, NOT_SATURATED, 7))
    expect(decideShed(health, flags, NOT_SATURATED, 0)).toBe(decideShed(health, calm, NOT_SATURATED, 9))
    expect(Object.isFrozen(decideShed(health, calm, NOT_SATURATED, 0))).toBe(true)
  })
})

describe('shedPercent is exact over every window of 100 tickets', () => {
  const table = compileRoutes(load({
    routes: [{ match: '/c', priority: 'critical' }, { match: '/n', priority: 'normal' }, { match: '/s', priority: 'sheddable' }]
  }))
  const routes: Record<Priority, CompiledRoute> = {
    critical: matchRoute(table, '/c'),
    normal: matchRoute(table, '/n'),
    sheddable: matchRoute(table, '/s')
  }
  const expected: Record<number, Record<Priority, number>> = {
    10: { sheddable: 20, normal: 0, critical: 0 },
    50: { sheddable: 100, normal: 0, critical: 0 },
    75: { sheddable: 100, normal: 50, critical: 0 },
    100: { sheddable: 100, normal: 100, critical: 0 }
  }

  function countShed (decide: (ticket: number) => ShedDecision, from: number, count: number): number {
    let shed = 0
    for (let t = from; t < from + count; t++) if (decide(t).action !== 'serve') shed++
    return shed
  }

  for (const [percent, perPriority] of Object.entries(expected)) {
    for (const [priority, per100] of Object.entries(perPriority) as Array<[Priority, number]>) {
      it(`P=${percent}: ${priority} sheds ${per100} of 100 and ${per100 * 10} of 1000`, () => {
        const flags = flagsWith({ shedPercent: Number(percent) })
        const decide = (t: number): ShedDecision => decideShed(routes[priority], flags, NOT_SATURATED, t)
        expect(countShed(decide, 0, 100)).toBe(per100)
        expect(countShed(decide, 0, 1000)).toBe(per100 * 10)
        // Any 100 consecutive tickets, not only aligned ones, and far into the counter's life.
        for (const start of [1, 37, 99, 12345, 2 ** 40 + 3]) expect(countShed(decide, start, 100)).toBe(per100)
      })
    }
  }

  it('spreads the shed tickets instead of bunching them', () => {
    const shed: number[] = []
    for (let t = 0; t < 100; t++) if (isShedTicket(t, 20)) shed.push(t)
    expect(shed).toHaveLength(20)
    const longestGap = Math.max(...shed.slice(1).map((t, i) => t - (shed[i] ?? 0)))
    expect(longestGap).toBeLessThanOrEqual(19)
    let longestRun = 0
    let run = 0
    for (let t = 0; t < 100; t++) {
      run = isShedTicket(t, 20) ? run + 1 : 0
      longestRun = Math.max(longestRun, run)
    }
    expect(longestRun).toBe(1)
  })

  it('rounds a fractional share up to whole tickets', () => {
    const flags = flagsWith({ shedPercent: 12.3 })
    let shed = 0
    for (let t = 0; t < 100; t++) if (decideShed(routes.sheddable, flags, NOT_SATURATED, t).action !== 'serve') shed++
    expect(shed).toBe(25)
  })
})
