import { describe, expect, it } from 'vitest'
import { closestName, editDistance } from '../../src/config/did-you-mean.js'

describe('did-you-mean on damerau-levenshtein (issue 26, item 8)', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('shedprecent', 'shedpercent')).toBe(1)
    expect(editDistance('trcae', 'trace')).toBe(1)
    expect(editDistance('memroy', 'memory')).toBe(1)
    expect(editDistance('port', 'prot')).toBe(1)
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('', 'abc')).toBe(3)
    expect(editDistance('abc', 'abc')).toBe(0)
  })

  it('caps at limit + 1', () => {
    expect(editDistance('a', 'abcdefgh', 2)).toBe(3)
    expect(editDistance('abcdef', 'uvwxyz', 2)).toBe(3)
  })

  it('guesses a swap in a short name, and nothing when no name is close', () => {
    expect(closestName('trcae', ['cacheOnly', 'shedPercent', 'trace'])).toBe('trace')
    expect(closestName('shedPrecent', ['cacheOnly', 'shedPercent', 'trace'])).toBe('shedPercent')
    expect(closestName('CACHEONLY', ['cacheOnly'])).toBe('cacheOnly')
    expect(closestName('banana', ['cacheOnly', 'shedPercent', 'trace'])).toBeUndefined()
  })
})
