import { describe, expect, it } from 'vitest'
import { decideStorable, type StoreOptions, type StoreVerdict } from '../../src/policy/storable.js'

const NOW = Date.parse('2026-01-01T00:00:00Z')
const options: StoreOptions = { graceSeconds: 10, staleIfErrorSeconds: 30, heuristicFraction: 0, storeSetCookie: false, keepStaleSeconds: 3600 }

function decide (headers: Record<string, string | string[]>, status = 200, reqHeaders: Record<string, string> = {}, opts: StoreOptions = options): StoreVerdict {
  return decideStorable({ method: 'GET', url: '/', headers: { host: 'h', ...reqHeaders } }, { status, headers }, NOW, opts)
}
const freshMs = (v: StoreVerdict): number | false => v.storable && v.deadlines.freshUntil - NOW
const date = new Date(NOW).toUTCString()

describe('RFC 9111 §5.2: directives as a recipient parses them', () => {
  it('§5.2: directive names are case-insensitive', () => {
    expect(decide({ 'cache-control': 'No-StOrE, max-age=60' })).toEqual({ storable: false, reason: 'no-store' })
    expect(freshMs(decide({ 'cache-control': 'MAX-AGE=60' }))).toBe(60_000)
  })

  it('§5.2: a quoted list is one directive (no-cache="a, max-age=0" does not set max-age=0)', () => {
    const v = decide({ 'cache-control': 'no-cache="x-a, max-age=0", max-age=60' })
    expect(freshMs(v)).toBe(60_000)
  })
})

describe('RFC 9111 §4.2.3 / §5.1 Age', () => {
  it.each([['1, 2'], ['1.5'], ['-5'], ['+5'], ['ten'], ['5;x=1'], [['5', '5']]])('an Age of %j is not trusted: stale on arrival', (age) => {
    const v = decide({ 'cache-control': 'max-age=60', age, etag: '"e"' })
    expect(v.storable).toBe(true)
    expect(freshMs(v)).toBe(0)
    expect(decide({ 'cache-control': 'max-age=60', age })).toEqual({ storable: false, reason: 'no-freshness' })
  })

  it('a plain integer Age is subtracted from the lifetime', () => {
    expect(freshMs(decide({ 'cache-control': 'max-age=60', age: '15' }))).toBe(45_000)
  })
})

describe('RFC 9111 §5.3 Expires', () => {
  const expiresIn30 = (form: string): StoreVerdict => decide({ expires: form, date })
  it('IMF-fixdate, RFC 850 and asctime all give the same lifetime', () => {
    const at = new Date(NOW + 30_000)
    const imf = at.toUTCString()
    const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
    const rfc850 = `${days[at.getUTCDay()] as string}, ${imf.slice(5, 7)}-${imf.slice(8, 11)}-${imf.slice(14, 16)} ${imf.slice(17, 25)} GMT`
    const asctime = `${imf.slice(0, 3)} ${imf.slice(8, 11)} ${String(at.getUTCDate()).padStart(2, ' ')} ${imf.slice(17, 25)} ${at.getUTCFullYear()}`
    for (const form of [imf, rfc850, asctime]) expect(freshMs(expiresIn30(form))).toBe(30_000)
  })

  it.each(['0', '-1', '2026-01-01T00:01:00Z', 'Thu, 01 Jan 2026 00:01:00 +0000'])('an Expires of %j means already expired', (expires) => {
    expect(freshMs(decide({ expires, date, etag: '"e"' }))).toBe(0)
  })

  it('max-age and s-maxage win over Expires', () => {
    expect(freshMs(decide({ 'cache-control': 'max-age=5', expires: '0', date }))).toBe(5000)
  })
})

describe('RFC 9111 §3 / §4.2.2, RFC 9110 §15.1: which statuses are stored', () => {
  it('§3: a 503 with max-age=5 is stored for 5 s, without the operator\'s grace or stale-if-error (README: what wins)', () => {
    const v = decide({ 'cache-control': 'max-age=5' }, 503)
    expect(freshMs(v)).toBe(5000)
    expect(v.storable && v.deadlines.staleWhileRevalidateUntil).toBe(NOW + 5000)
    expect(v.storable && v.deadlines.staleIfErrorUntil).toBe(NOW + 5000)
    expect(v.storable && v.ttlMs).toBe(5000)
  })

  it('§3: an error status without explicit freshness is not stored', () => {
    expect(decide({ etag: '"e"' }, 503)).toEqual({ storable: false, reason: 'status' })
    expect(decide({ 'last-modified': date }, 500, {}, { ...options, heuristicFraction: 0.1 })).toEqual({ storable: false, reason: 'status' })
  })

  it('§3: `public` makes an understood status storable (kept for its validator when it has no freshness)', () => {
    expect(decide({ 'cache-control': 'public', etag: '"e"' }, 302).storable).toBe(true)
    expect(decide({ 'cache-control': 'public' }, 302)).toEqual({ storable: false, reason: 'no-freshness' })
    expect(decide({ etag: '"e"' }, 302)).toEqual({ storable: false, reason: 'status' })
  })

  it('§4.2.2: heuristics cover only heuristically cacheable statuses', () => {
    const heuristic = { ...options, heuristicFraction: 0.1 }
    const lm = { date, 'last-modified': new Date(NOW - 1_000_000).toUTCString() }
    expect(freshMs(decide(lm, 404, {}, heuristic))).toBe(100_000)
    expect(freshMs(decide(lm, 200, {}, heuristic))).toBe(100_000)
    expect(decide(lm, 302, {}, heuristic)).toEqual({ storable: false, reason: 'status' })
    expect(freshMs(decide(lm, 200))).toBe(0)
  })

  it('§3: an unknown status code is stored only with explicit freshness', () => {
    expect(freshMs(decide({ 'cache-control': 'max-age=9' }, 299))).toBe(9000)
    expect(decide({ 'cache-control': 'public', etag: '"e"' }, 299)).toEqual({ storable: false, reason: 'status' })
  })

  it('§5.2.2.3: must-understand stores an understood status despite no-store, and never an unknown one', () => {
    expect(freshMs(decide({ 'cache-control': 'must-understand, no-store, max-age=60' }, 200))).toBe(60_000)
    expect(decide({ 'cache-control': 'must-understand, no-store, max-age=60' }, 299)).toEqual({ storable: false, reason: 'status' })
  })

  it('§3: interim, partial and 304 responses are never stored as themselves', () => {
    for (const status of [100, 206, 304]) expect(decide({ 'cache-control': 'max-age=60' }, status)).toEqual({ storable: false, reason: 'status' })
  })
})

describe('RFC 9111 §3.5 Authorization', () => {
  it.each(['public, max-age=60', 's-maxage=60', 'must-revalidate, max-age=60'])('%s lets the response be stored and shared', (cc) => {
    expect(decide({ 'cache-control': cc }, 200, { authorization: 'Bearer t' }).storable).toBe(true)
  })

  it('anything else stays a pass', () => {
    expect(decide({ 'cache-control': 'max-age=60' }, 200, { authorization: 'Bearer t' })).toEqual({ storable: false, reason: 'authorization' })
    expect(decide({ expires: new Date(NOW + 60_000).toUTCString(), date }, 200, { authorization: 'Bearer t' })).toEqual({ storable: false, reason: 'authorization' })
  })
})

describe('RFC 9111 §5.2.2.4 / §5.2.2.7 qualified no-cache and private, §3.1 Connection', () => {
  it('§5.2.2.4: no-cache="set-cookie" stores the response without Set-Cookie, fresh and servable stale', () => {
    const v = decide({ 'cache-control': 'no-cache="Set-Cookie", max-age=60', 'set-cookie': 'sid=1' })
    expect(v.storable && v.omitFields).toEqual(['set-cookie'])
    expect(freshMs(v)).toBe(60_000)
    expect(v.storable && v.deadlines.mustRevalidate).toBe(false)
  })

  it('§5.2.2.7: private="x-user, set-cookie" withholds those fields; plain private refuses', () => {
    const v = decide({ 'cache-control': 'private="x-user, set-cookie", max-age=60', 'x-user': 'u1', 'set-cookie': 'a=1' })
    expect(v.storable && v.omitFields).toEqual(['x-user', 'set-cookie'])
    expect(decide({ 'cache-control': 'private, max-age=60' })).toEqual({ storable: false, reason: 'private' })
  })

  it('§3.1: fields listed in Connection are never stored', () => {
    const v = decide({ 'cache-control': 'max-age=60', connection: 'X-Hop, close', 'x-hop': '1' })
    expect(v.storable && v.omitFields).toEqual(['x-hop'])
    const plain = decide({ 'cache-control': 'max-age=60', connection: 'keep-alive' })
    expect(plain.storable && plain.omitFields).toEqual([])
  })
})

describe('RFC 9213 §2.2 targeted fields in decideStorable', () => {
  it('Corral-Cache-Control governs corral\'s caching while the client keeps Cache-Control: no-store', () => {
    const v = decide({ 'corral-cache-control': 'max-age=60', 'cache-control': 'private, no-store' })
    expect(freshMs(v)).toBe(60_000)
  })

  it('a targeted field makes corral ignore Expires', () => {
    const v = decide({ 'cdn-cache-control': 'no-cache', expires: new Date(NOW + 60_000).toUTCString(), date, etag: '"e"' })
    expect(freshMs(v)).toBe(0)
    expect(v.storable && v.deadlines.mustRevalidate).toBe(true)
  })

  it('no-store in a targeted field keeps the response out even when Cache-Control allows it', () => {
    expect(decide({ 'cdn-cache-control': 'no-store', 'cache-control': 'max-age=60' })).toEqual({ storable: false, reason: 'no-store' })
  })

  it('Surrogate-Control max-age=N+M: fresh N seconds, M as stale-if-error', () => {
    const v = decide({ 'surrogate-control': 'max-age=30+60', 'cache-control': 'no-store' })
    expect(freshMs(v)).toBe(30_000)
    expect(v.storable && v.deadlines.staleIfErrorUntil).toBe(NOW + 90_000)
  })

  it('the precedence comes from StoreOptions.targetedFields', () => {
    const headers = { 'cdn-cache-control': 'max-age=5', 'corral-cache-control': 'max-age=50' }
    expect(freshMs(decide(headers))).toBe(50_000)
    expect(freshMs(decide(headers, 200, {}, { ...options, targetedFields: ['cdn-cache-control'] }))).toBe(5000)
    expect(freshMs(decide(headers, 200, {}, { ...options, targetedFields: [] }))).toBe(false)
  })
})
