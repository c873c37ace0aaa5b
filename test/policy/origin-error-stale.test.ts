import { describe, expect, it } from 'vitest'
import { isStaleBetterThanError } from '../../src/policy/origin-error.js'
import { makeEntry } from '../store/records.js'

const entry = makeEntry('k')
const insideSie = entry.staleIfErrorUntil - 1
describe('RFC 5861 §4 a cached error never beats a good stale copy', () => {
  it('a 500/502/503/504 does not replace a 200 inside its stale-if-error window', () => {
    for (const status of [500, 502, 503, 504]) expect(isStaleBetterThanError(entry, status, insideSie)).toBe(true)
  })

  it('other answers, an expired window, a must-revalidate copy or a stored error do not hold the new answer back', () => {
    expect(isStaleBetterThanError(entry, 200, insideSie)).toBe(false)
    expect(isStaleBetterThanError(entry, 501, insideSie)).toBe(false)
    expect(isStaleBetterThanError(entry, 503, entry.staleIfErrorUntil)).toBe(false)
    expect(isStaleBetterThanError(makeEntry('k', { mustRevalidate: true }), 503, insideSie)).toBe(false)
    expect(isStaleBetterThanError(makeEntry('k', { status: 503 }), 503, insideSie)).toBe(false)
    expect(isStaleBetterThanError(undefined, 503, insideSie)).toBe(false)
  })
})
