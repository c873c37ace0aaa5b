import { describe, expect, it } from 'vitest'
import { decideFallback, decideOriginError, NO_ANSWER } from '../../src/policy/origin-error.js'
import { makeEntry } from '../store/records.js'

const T = 1_700_000_000_000
const stale = makeEntry('h/p', { freshUntil: T, staleWhileRevalidateUntil: T, staleIfErrorUntil: T + 60_000 })
const inWindow = T + 30_000
const pastWindow = T + 60_000

describe('decideOriginError', () => {
  it('leaves an answer below 500 to the page rules', () => {
    expect(decideOriginError(stale, 404, true, inWindow)).toBe('page')
    expect(decideOriginError(stale, 200, false, inWindow)).toBe('page')
  })

  it('serves the stale copy for no answer, or an error nobody may keep, inside stale-if-error', () => {
    expect(decideOriginError(stale, NO_ANSWER, false, inWindow)).toBe('stale')
    expect(decideOriginError(stale, 501, false, inWindow)).toBe('stale')
    expect(decideOriginError(stale, NO_ANSWER, false, pastWindow)).toBe('error')
    expect(decideOriginError(undefined, 503, false, inWindow)).toBe('error')
    expect(decideOriginError(makeEntry('h/p', { mustRevalidate: true, staleIfErrorUntil: T + 60_000 }), 503, false, inWindow)).toBe('error')
  })

  it('lets a storable error replace the copy unless stale-if-error names its status and the copy is no error', () => {
    expect(decideOriginError(stale, 503, true, inWindow)).toBe('stale')
    expect(decideOriginError(stale, 501, true, inWindow)).toBe('error')
    expect(decideOriginError(makeEntry('h/p', { status: 503, staleIfErrorUntil: T + 60_000 }), 503, true, inWindow)).toBe('error')
    expect(decideOriginError(stale, 503, true, pastWindow)).toBe('error')
  })
})

describe('decideFallback', () => {
  it('asks decideOriginError for an origin failure, and sheds without a copy otherwise', () => {
    expect(decideFallback(stale, 'origin-error', inWindow)).toBe('stale')
    expect(decideFallback(stale, 'origin-error', pastWindow)).toBe('error')
    expect(decideFallback(undefined, 'cache-only', inWindow)).toBe('shed')
    expect(decideFallback(stale, 'cache-only', pastWindow)).toBe('stale')
    expect(decideFallback(makeEntry('h/p', { mustRevalidate: true }), 'origin-busy', inWindow)).toBe('shed')
  })
})
