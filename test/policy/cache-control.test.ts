import { describe, expect, it } from 'vitest'
import { deltaSeconds, parseCacheControl, qualifiedFields, tokenizeDirectives } from '../../src/policy/cache-control.js'

const entries = (value: string | string[]): Array<[string, string | true]> => [...parseCacheControl(value)]

describe('RFC 9111 §5.2 Cache-Control parsing', () => {
  it('§5.2: directive names are case-insensitive', () => {
    expect(entries('No-CaChE, MAX-AGE=5')).toEqual([['no-cache', true], ['max-age', '5']])
  })

  it('§5.2 / RFC 9110 §5.6.4: a quoted argument is one directive, commas and escapes included', () => {
    expect(entries('no-cache="set-cookie, x-a", max-age=60')).toEqual([['no-cache', 'set-cookie, x-a'], ['max-age', '60']])
    expect(entries('private="x", ext="a\\"b,c"')).toEqual([['private', 'x'], ['ext', 'a"b,c']])
  })

  it('RFC 9110 §5.6.1: empty members, OWS and several field lines make one list', () => {
    expect(entries([' public ,, ', 'max-age=60\t'])).toEqual([['public', true], ['max-age', '60']])
  })

  it('§4.2.1: a directive given twice uses its first occurrence', () => {
    expect(parseCacheControl('max-age=10, max-age=99').get('max-age')).toBe('10')
  })

  it('§5.2.3: a malformed member is dropped and the rest still counts', () => {
    expect(entries('=5, max-age=60')).toEqual([['max-age', '60']])
    expect(entries('max-age=60 junk, public')).toEqual([['public', true]])
    expect(entries('a=, no-store')).toEqual([['no-store', true]])
    expect(entries('public, x="unterminated')).toEqual([['public', true]])
  })

  it('reads Surrogate-Control style `;device` targets apart (Cache-Control drops them)', () => {
    expect(tokenizeDirectives('max-age=60;corral, no-store')).toEqual([
      { name: 'max-age', value: '60', targets: ['corral'] },
      { name: 'no-store', value: true, targets: [] }
    ])
    expect(entries('max-age=60;corral, no-store')).toEqual([['no-store', true]])
  })

  it('§1.2.2: delta-seconds is 1*DIGIT, capped at 2^31', () => {
    const cc = parseCacheControl('max-age=1.5, s-maxage=-1, a=99999999999, b="30", c')
    expect(deltaSeconds(cc, 'max-age')).toBeUndefined()
    expect(deltaSeconds(cc, 's-maxage')).toBeUndefined()
    expect(deltaSeconds(cc, 'a')).toBe(2147483648)
    expect(deltaSeconds(cc, 'b')).toBe(30)
    expect(deltaSeconds(cc, 'c')).toBeUndefined()
  })

  it('§5.2.2.4 / §5.2.2.7: qualified no-cache and private name lower-case fields; unqualified is null', () => {
    const cc = parseCacheControl('no-cache="Set-Cookie, X-A", private')
    expect(qualifiedFields(cc, 'no-cache')).toEqual(['set-cookie', 'x-a'])
    expect(qualifiedFields(cc, 'private')).toBeNull()
    expect(qualifiedFields(cc, 'absent')).toBeNull()
  })
})
