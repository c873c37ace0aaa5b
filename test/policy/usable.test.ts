import { describe, expect, it } from 'vitest'
import { ageSeconds, decideUsable, mayServeOnError, ttlSeconds } from '../../src/policy/usable.js'
import { makeConditionalHeaders, mergeNotModified } from '../../src/policy/revalidate.js'
import { isNotModifiedForClient } from '../../src/policy/conditional.js'
import type { StoredEntry } from '../../src/store/types.js'

const T = 1_000_000
function entry (over: Partial<StoredEntry> = {}): StoredEntry {
  return {
    kind: 'entry',
    key: 'h/p',
    status: 200,
    headers: ['content-type', 'text/html', 'etag', '"v1"', 'content-length', '4', 'cache-control', 'max-age=10'],
    body: Buffer.from('body'),
    storedAt: T,
    initialAgeSeconds: 0,
    freshUntil: T + 10_000,
    staleWhileRevalidateUntil: T + 20_000,
    staleIfErrorUntil: T + 60_000,
    mustRevalidate: false,
    etag: '"v1"',
    lastModified: undefined,
    ...over
  }
}

describe('decideUsable', () => {
  it('is fresh, then stale within the stale-while-revalidate window, then expired', () => {
    expect(decideUsable(entry(), T + 9999)).toBe('fresh')
    expect(decideUsable(entry(), T + 10_000)).toBe('stale')
    expect(decideUsable(entry(), T + 20_000)).toBe('expired')
  })

  it('never serves a must-revalidate entry stale', () => {
    expect(decideUsable(entry({ mustRevalidate: true }), T + 10_001)).toBe('expired')
    expect(mayServeOnError(entry({ mustRevalidate: true }), T + 10_001)).toBe(false)
  })

  it('allows stale-if-error until its deadline', () => {
    expect(mayServeOnError(entry(), T + 59_999)).toBe(true)
    expect(mayServeOnError(entry(), T + 60_000)).toBe(false)
  })

  it('computes Age from the initial age and the time in cache, and ttl from the deadline', () => {
    expect(ageSeconds(entry({ initialAgeSeconds: 5 }), T + 2500)).toBe(7)
    expect(ttlSeconds(entry(), T + 2500)).toBe(7)
    expect(ttlSeconds(entry(), T + 12_000)).toBe(-2)
  })
})

describe('revalidation', () => {
  it('sends the stored validators', () => {
    expect(makeConditionalHeaders(entry())).toEqual({ 'if-none-match': '"v1"' })
    expect(makeConditionalHeaders(entry({ etag: undefined, lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT' }))).toEqual({ 'if-modified-since': 'Wed, 01 Jan 2025 00:00:00 GMT' })
    expect(makeConditionalHeaders(entry({ etag: undefined }))).toBeNull()
  })

  it('merges a 304 into the stored headers but keeps the stored length and encoding', () => {
    const merged = mergeNotModified(entry(), { 'cache-control': 'max-age=99', 'content-length': '0', connection: 'close' })
    expect(merged['cache-control']).toBe('max-age=99')
    expect(merged['content-length']).toBe('4')
    expect(merged.connection).toBeUndefined()
    expect(merged['content-type']).toBe('text/html')
  })

  it('answers a client If-None-Match with weak comparison, If-Modified-Since only without it', () => {
    const lm = 'Wed, 01 Jan 2025 00:00:00 GMT'
    const e = entry({ etag: 'W/"v1"', lastModified: lm })
    expect(isNotModifiedForClient(e, '"v1"', undefined)).toBe(true)
    expect(isNotModifiedForClient(e, '"v2", W/"v1"', undefined)).toBe(true)
    expect(isNotModifiedForClient(e, '"v2"', lm)).toBe(false)
    expect(isNotModifiedForClient(e, undefined, lm)).toBe(true)
    expect(isNotModifiedForClient(e, undefined, 'Tue, 31 Dec 2024 00:00:00 GMT')).toBe(false)
    expect(isNotModifiedForClient(entry({ status: 404 }), '"v1"', undefined)).toBe(false)
  })
})
