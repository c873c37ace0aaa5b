import { describe, expect, it } from 'vitest'
import { isNotModifiedForClient, isOnlyIfCached, parseEntityTags, weakMatch } from '../../src/policy/conditional.js'
import { makeEntry } from '../store/records.js'

const LM = 'Sun, 06 Nov 1994 08:49:37 GMT'
const LATER = 'Mon, 07 Nov 1994 08:49:37 GMT'
const EARLIER = 'Sat, 05 Nov 1994 08:49:37 GMT'

describe('RFC 9110 §13.1.2 If-None-Match (weak comparison)', () => {
  it('parses quoted tags as quoted-strings, W/ dropped, commas inside quotes kept', () => {
    expect(parseEntityTags('W/"a", "b,c" ,"d"')).toEqual(['"a"', '"b,c"', '"d"'])
    expect(parseEntityTags(' * ')).toBe('*')
  })

  it('matches weak and strong spellings of one tag both ways', () => {
    expect(weakMatch(parseEntityTags('W/"x"'), '"x"')).toBe(true)
    expect(weakMatch(parseEntityTags('"x"'), 'W/"x"')).toBe(true)
    expect(weakMatch(parseEntityTags('"y", W/"x"'), 'W/"x"')).toBe(true)
    expect(weakMatch(parseEntityTags('"x"'), '"y"')).toBe(false)
  })

  it('an unquoted tag matches only a stored tag spelled the same way', () => {
    expect(weakMatch(parseEntityTags('x'), '"x"')).toBe(false)
    expect(weakMatch(parseEntityTags('x'), 'x')).toBe(true)
    expect(weakMatch(parseEntityTags('"x'), '"x"')).toBe(false)
  })

  it('§13.2.2: If-None-Match decides alone, If-Modified-Since is then ignored', () => {
    const entry = makeEntry('k', { etag: '"v1"', lastModified: LM })
    expect(isNotModifiedForClient(entry, '"v2"', LATER)).toBe(false)
    expect(isNotModifiedForClient(entry, 'W/"v1"', EARLIER)).toBe(true)
    expect(isNotModifiedForClient(entry, '*', undefined)).toBe(true)
  })
})

describe('RFC 9110 §13.1.3 / RFC 9111 §4.3.2 If-Modified-Since', () => {
  it('compares with Last-Modified', () => {
    const entry = makeEntry('k', { etag: undefined, lastModified: LM })
    expect(isNotModifiedForClient(entry, undefined, LM)).toBe(true)
    expect(isNotModifiedForClient(entry, undefined, EARLIER)).toBe(false)
  })

  it('uses the stored Date when there is no Last-Modified, else the time it was stored', () => {
    const dated = makeEntry('k', { etag: undefined, lastModified: undefined, headers: ['date', LM] })
    expect(isNotModifiedForClient(dated, undefined, LATER)).toBe(true)
    expect(isNotModifiedForClient(dated, undefined, EARLIER)).toBe(false)
    const undated = makeEntry('k', { etag: undefined, lastModified: undefined, headers: [] })
    expect(isNotModifiedForClient(undated, undefined, new Date(undated.storedAt + 1000).toUTCString())).toBe(true)
    expect(isNotModifiedForClient(undated, undefined, LATER)).toBe(false)
  })

  it('ignores an If-Modified-Since that is not an HTTP-date', () => {
    const entry = makeEntry('k', { etag: undefined, lastModified: LM })
    expect(isNotModifiedForClient(entry, undefined, '2099-01-01')).toBe(false)
  })

  it('answers 304 only for a stored 200', () => {
    expect(isNotModifiedForClient(makeEntry('k', { status: 404, etag: '"v1"' }), '"v1"', undefined)).toBe(false)
  })
})

describe('RFC 9111 §5.2.1.7 only-if-cached', () => {
  it('is read from the request Cache-Control, case-insensitively', () => {
    expect(isOnlyIfCached({ 'cache-control': 'max-age=0, Only-If-Cached' })).toBe(true)
    expect(isOnlyIfCached({ 'cache-control': 'no-cache' })).toBe(false)
    expect(isOnlyIfCached({})).toBe(false)
  })
})
