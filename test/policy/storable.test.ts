import { describe, expect, it } from 'vitest'
import { decideStorable, type StoreOptions } from '../../src/policy/storable.js'

const NOW = Date.parse('2026-01-01T00:00:00Z')
const options: StoreOptions = { graceSeconds: 10, staleIfErrorSeconds: 0, heuristicFraction: 0, storeSetCookie: false, keepStaleSeconds: 3600 }
const get = (headers: Record<string, string> = {}): { method: string, url: string, headers: Record<string, string> } => ({ method: 'GET', url: '/', headers: { host: 'h', ...headers } })

function decide (headers: Record<string, string>, status = 200, reqHeaders: Record<string, string> = {}, opts: StoreOptions = options): ReturnType<typeof decideStorable> {
  return decideStorable(get(reqHeaders), { status, headers }, NOW, opts)
}

describe('decideStorable', () => {
  it.each([
    [{ 'cache-control': 'no-store, max-age=60' }, 'no-store'],
    [{ 'cache-control': 'private, max-age=60' }, 'private'],
    [{ 'cache-control': 'max-age=60', 'set-cookie': 'a=1' }, 'set-cookie'],
    [{ 'cache-control': 'max-age=60', vary: 'Accept, *' }, 'vary-star'],
    [{}, 'no-freshness']
  ])('refuses %o (%s)', (headers, reason) => {
    expect(decide(headers)).toEqual({ storable: false, reason })
  })

  it('refuses a response to an Authorization request unless the origin allows sharing it', () => {
    expect(decide({ 'cache-control': 'max-age=60' }, 200, { authorization: 'Bearer x' })).toEqual({ storable: false, reason: 'authorization' })
    expect(decide({ 'cache-control': 's-maxage=60' }, 200, { authorization: 'Bearer x' }).storable).toBe(true)
  })

  it.each([
    { 'cache-control': 'no-store' },
    { 'cache-control': 'no-cache, max-age=0' },
    { pragma: 'no-cache' }
  ])('ignores the client request directives %o (a shared cache; README)', (reqHeaders) => {
    const v = decide({ 'cache-control': 'max-age=60' }, 200, reqHeaders)
    expect(v.storable).toBe(true)
    expect(v.storable && v.deadlines.freshUntil).toBe(NOW + 60_000)
  })

  it('stores Set-Cookie responses only when allowed and public', () => {
    const allow = { ...options, storeSetCookie: true }
    expect(decide({ 'cache-control': 'max-age=60', 'set-cookie': 'a=1' }, 200, {}, allow).storable).toBe(false)
    expect(decide({ 'cache-control': 'public, max-age=60', 'set-cookie': 'a=1' }, 200, {}, allow).storable).toBe(true)
  })

  it('s-maxage wins over max-age, which wins over Expires', () => {
    const s = decide({ 'cache-control': 'max-age=100, s-maxage=5' })
    const m = decide({ 'cache-control': 'max-age=7', expires: new Date(NOW + 100_000).toUTCString(), date: new Date(NOW).toUTCString() })
    const e = decide({ expires: new Date(NOW + 30_000).toUTCString(), date: new Date(NOW).toUTCString() })
    expect(s.storable && s.deadlines.freshUntil).toBe(NOW + 5000)
    expect(m.storable && m.deadlines.freshUntil).toBe(NOW + 7000)
    expect(e.storable && e.deadlines.freshUntil).toBe(NOW + 30_000)
  })

  it('subtracts the Age the response arrived with', () => {
    const v = decide({ 'cache-control': 'max-age=60', age: '20' })
    expect(v.storable && v.deadlines.freshUntil).toBe(NOW + 40_000)
    expect(v.storable && v.deadlines.initialAgeSeconds).toBe(20)
  })

  it('applies the operator grace when the origin is silent, and the origin windows when it is not', () => {
    const grace = decide({ 'cache-control': 'max-age=60' })
    expect(grace.storable && grace.deadlines.staleWhileRevalidateUntil).toBe(NOW + 70_000)
    const swr = decide({ 'cache-control': 'max-age=60, stale-while-revalidate=5, stale-if-error=300' })
    expect(swr.storable && swr.deadlines.staleWhileRevalidateUntil).toBe(NOW + 65_000)
    expect(swr.storable && swr.deadlines.staleIfErrorUntil).toBe(NOW + 360_000)
  })

  it('gives s-maxage no default grace (it implies proxy-revalidate), but honours explicit windows', () => {
    const plain = decide({ 'cache-control': 's-maxage=60' })
    expect(plain.storable && plain.deadlines.staleWhileRevalidateUntil).toBe(NOW + 60_000)
    const explicit = decide({ 'cache-control': 's-maxage=60, stale-while-revalidate=30' })
    expect(explicit.storable && explicit.deadlines.staleWhileRevalidateUntil).toBe(NOW + 90_000)
  })

  it.each(['no-cache', 'must-revalidate', 'proxy-revalidate'])('%s forbids serving stale', (directive) => {
    const v = decide({ 'cache-control': `max-age=60, ${directive}, stale-while-revalidate=30`, etag: '"x"' })
    expect(v.storable && v.deadlines.mustRevalidate).toBe(true)
    expect(v.storable && v.deadlines.staleWhileRevalidateUntil).toBe(v.storable && v.deadlines.freshUntil)
  })

  it.each(['must-revalidate', 'proxy-revalidate'])('RFC 9111 §5.2.2.2 / §5.2.2.8: %s keeps the freshness lifetime', (directive) => {
    const v = decide({ 'cache-control': `max-age=60, ${directive}` })
    expect(v.storable && v.deadlines.freshUntil).toBe(NOW + 60_000)
  })

  it('keeps a response with only a validator, to revalidate it each time (no-cache + ETag)', () => {
    const v = decide({ 'cache-control': 'no-cache', etag: '"x"' })
    expect(v.storable).toBe(true)
    expect(v.storable && v.deadlines.freshUntil).toBe(NOW)
  })

  it('uses heuristic freshness only when configured', () => {
    const headers = { date: new Date(NOW).toUTCString(), 'last-modified': new Date(NOW - 1_000_000).toUTCString() }
    expect(decide(headers).storable && (decide(headers) as { deadlines: { freshUntil: number } }).deadlines.freshUntil).toBe(NOW)
    const h = decide(headers, 200, {}, { ...options, heuristicFraction: 0.1 })
    expect(h.storable && h.deadlines.freshUntil).toBe(NOW + 100_000)
  })

  it('keeps an entry keepStaleSeconds past its last stale window (revalidation, cache-only answers)', () => {
    const v = decide({ 'cache-control': 'max-age=60, stale-if-error=100' })
    expect(v.storable && v.ttlMs).toBe((60 + 100 + 3600) * 1000)
    const none = decide({ 'cache-control': 'max-age=60' }, 200, {}, { ...options, keepStaleSeconds: 0, graceSeconds: 0 })
    expect(none.storable && none.ttlMs).toBe(60_000)
  })

  it('never stores partial content or unsafe methods', () => {
    expect(decide({ 'cache-control': 'max-age=60' }, 206)).toEqual({ storable: false, reason: 'status' })
    expect(decideStorable({ method: 'POST', url: '/', headers: {} }, { status: 200, headers: { 'cache-control': 'max-age=60' } }, NOW, options)).toEqual({ storable: false, reason: 'method' })
  })

  describe('fields sent on several lines (undici hands them over as arrays)', () => {
    const many = (headers: Record<string, string | string[]>): ReturnType<typeof decideStorable> =>
      decideStorable(get(), { status: 200, headers }, NOW, options)

    it('reads Cache-Control, Pragma and Vary lines as one list', () => {
      const cc = many({ 'cache-control': ['public', 'max-age=60'] })
      expect(cc.storable && cc.deadlines.freshUntil).toBe(NOW + 60_000)
      const mustRevalidate = many({ 'cache-control': ['max-age=60', 'must-revalidate'], pragma: ['no-cache', 'x'] })
      expect(mustRevalidate.storable && mustRevalidate.deadlines.mustRevalidate).toBe(true)
      const vary = many({ 'cache-control': 'max-age=60', vary: ['Accept', 'Accept-Language'] })
      expect(vary.storable && vary.deadlines.freshUntil).toBe(NOW + 60_000)
    })

    it('RFC 9111 §5.3 / §5.1: a repeated Expires is already expired, and repeated Age lines are not trusted', () => {
      const date = new Date(NOW).toUTCString()
      const expires = new Date(NOW + 30_000).toUTCString()
      expect(many({ expires: [expires, expires], date })).toEqual({ storable: false, reason: 'no-freshness' })
      const aged = many({ 'cache-control': 'max-age=60', age: ['20', '20'], etag: '"e"' })
      expect(aged.storable && aged.deadlines.freshUntil).toBe(NOW)
    })

    it('keeps Set-Cookie lines as they are (stored only when allowed and public)', () => {
      const allow = { ...options, storeSetCookie: true }
      const headers = { 'cache-control': ['public', 'max-age=60'], 'set-cookie': ['a=1', 'b=2'] }
      expect(decideStorable(get(), { status: 200, headers }, NOW, allow).storable).toBe(true)
      expect(many(headers)).toEqual({ storable: false, reason: 'set-cookie' })
    })
  })
})
