import { describe, expect, it } from 'vitest'
import { makeStale } from '../../src/purge/stale.js'
import { makeEntry } from '../store/records.js'

const T = 1_700_000_000_000

describe('makeStale with nothing granted (an invalidation)', () => {
  it('makes a fresh entry need validation from `at`, and keeps its stale-if-error fallback', () => {
    const e = makeEntry('h/x', { freshUntil: T + 60_000, staleWhileRevalidateUntil: T + 90_000, staleIfErrorUntil: T + 300_000 })
    const stale = makeStale(e, T + 10_000, 0)
    expect([stale.freshUntil, stale.staleWhileRevalidateUntil, stale.staleIfErrorUntil]).toEqual([T + 10_000, T + 10_000, T + 300_000])
    expect(makeStale(stale, T + 10_000, 0)).toBe(stale)
  })

  it('ends the stale-while-revalidate window of an entry already stale (RFC 9111 §4.4: validation first)', () => {
    const e = makeEntry('h/x', { freshUntil: T, staleWhileRevalidateUntil: T + 90_000 })
    expect(makeStale(e, T + 10_000, 0).staleWhileRevalidateUntil).toBe(T + 10_000)
  })
})
