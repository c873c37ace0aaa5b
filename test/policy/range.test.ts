import { describe, expect, it } from 'vitest'
import { decideRange, parseRange, type StoredRepresentation } from '../../src/policy/range.js'

const NOW = Date.parse('2026-01-01T00:00:00Z')
const LM = 'Sun, 06 Nov 1994 08:49:37 GMT'
const stored: StoredRepresentation = { status: 200, length: 1000, etag: '"v1"', lastModified: LM, date: 'Mon, 07 Nov 1994 08:49:37 GMT' }
const range = (value: string, over: Partial<StoredRepresentation> = {}, ifRange?: string, method = 'GET'): ReturnType<typeof decideRange> =>
  decideRange({ method, range: value, ifRange }, { ...stored, ...over }, NOW)

describe('RFC 9110 §14.1 / §14.2 Range', () => {
  it('§14.1.1: parses int, open and suffix ranges; refuses other units and bad syntax', () => {
    expect(parseRange('bytes=0-9, 5-, -3')).toEqual([{ kind: 'int', first: 0, last: 9 }, { kind: 'int', first: 5, last: undefined }, { kind: 'suffix', length: 3 }])
    expect(parseRange('Bytes = 1-2')).toEqual([{ kind: 'int', first: 1, last: 2 }])
    for (const bad of ['items=0-1', 'bytes=5-1', 'bytes=a-b', 'bytes=-', 'bytes=', '0-1']) expect(parseRange(bad)).toBeNull()
  })

  it('§14.4: a single range gets 206 with Content-Range', () => {
    expect(range('bytes=0-99')).toEqual({ kind: 'partial', start: 0, end: 99, contentRange: 'bytes 0-99/1000' })
    expect(range('bytes=990-')).toEqual({ kind: 'partial', start: 990, end: 999, contentRange: 'bytes 990-999/1000' })
    expect(range('bytes=-10')).toEqual({ kind: 'partial', start: 990, end: 999, contentRange: 'bytes 990-999/1000' })
    expect(range('bytes=900-5000')).toMatchObject({ start: 900, end: 999 })
    expect(range('bytes=-5000')).toMatchObject({ start: 0, end: 999 })
  })

  it('§15.5.17: no satisfiable range gets 416 with Content-Range: bytes */L', () => {
    expect(range('bytes=1000-')).toEqual({ kind: 'unsatisfiable', contentRange: 'bytes */1000' })
    expect(range('bytes=-0')).toEqual({ kind: 'unsatisfiable', contentRange: 'bytes */1000' })
    expect(range('bytes=0-', { length: 0 })).toEqual({ kind: 'unsatisfiable', contentRange: 'bytes */0' })
  })

  it('§14.2: several ranges: merged into one 206 when they touch, else the whole 200 (corral\'s choice)', () => {
    expect(range('bytes=0-9, 10-19, 5-12')).toMatchObject({ kind: 'partial', start: 0, end: 19 })
    expect(range('bytes=0-9, 20-29')).toEqual({ kind: 'whole' })
    expect(range('bytes=0-9, 5000-6000')).toMatchObject({ kind: 'partial', start: 0, end: 9 })
  })

  it('§14.2: an invalid Range, a method other than GET, or a stored status other than 200 gets the whole response', () => {
    expect(range('bytes=9-1')).toEqual({ kind: 'whole' })
    expect(range('bytes=0-1', {}, undefined, 'HEAD')).toEqual({ kind: 'whole' })
    expect(range('bytes=0-1', { status: 404 })).toEqual({ kind: 'whole' })
  })
})

describe('RFC 9110 §13.1.5 If-Range', () => {
  it('an entity-tag matches by strong comparison only', () => {
    expect(range('bytes=0-1', {}, '"v1"')).toMatchObject({ kind: 'partial' })
    expect(range('bytes=0-1', {}, '"v2"')).toEqual({ kind: 'whole' })
    expect(range('bytes=0-1', {}, 'W/"v1"')).toEqual({ kind: 'whole' })
    expect(range('bytes=0-1', { etag: 'W/"v1"' }, 'W/"v1"')).toEqual({ kind: 'whole' })
  })

  it('a date matches only an equal Last-Modified that is strong (a second or more before Date)', () => {
    expect(range('bytes=0-1', {}, LM)).toMatchObject({ kind: 'partial' })
    expect(range('bytes=0-1', {}, 'Sat, 05 Nov 1994 08:49:37 GMT')).toEqual({ kind: 'whole' })
    expect(range('bytes=0-1', { date: LM }, LM)).toEqual({ kind: 'whole' })
    expect(range('bytes=0-1', { lastModified: undefined }, LM)).toEqual({ kind: 'whole' })
  })
})
