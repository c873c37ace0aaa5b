import { describe, expect, it } from 'vitest'
import { parseDateField, parseHttpDate } from '../../src/policy/http-date.js'

const NOW = Date.parse('2026-01-01T00:00:00Z')
const T = Date.UTC(1994, 10, 6, 8, 49, 37)

describe('RFC 9110 §5.6.7 HTTP-date', () => {
  it('reads IMF-fixdate, RFC 850 and asctime alike', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(T)
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(T)
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW)).toBe(T)
  })

  it('places an RFC 850 two-digit year no more than 50 years ahead of now', () => {
    expect(parseHttpDate('Thursday, 01-Jan-30 00:00:00 GMT', NOW)).toBe(Date.UTC(2030, 0, 1))
    expect(parseHttpDate('Friday, 01-Jan-99 00:00:00 GMT', NOW)).toBe(Date.UTC(1999, 0, 1))
  })

  it.each([
    '0', '-1', 'tomorrow', '2026-01-01T00:00:00Z', 'Sun, 06 Nov 1994 08:49:37 PST', 'Sun, 6 Nov 1994 08:49:37 GMT',
    'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 25:49:37 GMT', ''
  ])('refuses %j', (text) => {
    expect(parseHttpDate(text, NOW)).toBeNaN()
  })

  it('§5.3: a singleton date field sent on several lines is invalid; absent is undefined', () => {
    const d = 'Sun, 06 Nov 1994 08:49:37 GMT'
    expect(parseDateField([d, d], NOW)).toBeNaN()
    expect(parseDateField([d], NOW)).toBe(T)
    expect(parseDateField(undefined, NOW)).toBeUndefined()
  })
})
