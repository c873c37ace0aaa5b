import { describe, expect, it } from 'vitest'
import { decideLookup, type KeySet } from '../../src/policy/lookup.js'
import { cacheStatusOf } from '../../src/answer.js'

const none: KeySet = { has: () => false }
const only = (key: string): KeySet => ({ has: (k) => k === key })
const asked: string[] = []
const counting: KeySet = { has: (k) => { asked.push(k); return false } }

describe('decideLookup', () => {
  it('answers hit and stale from the entry alone, asking neither set', () => {
    expect(decideLookup('fresh', 'h/p', 'h/p\nv', counting, counting)).toBe('hit')
    expect(decideLookup('stale', 'h/p', 'h/p\nv', counting, counting)).toBe('stale')
    expect(asked).toEqual([])
  })

  it('puts hit-for-pass (by primary key) before a flight (by key looked up), and misses with neither', () => {
    expect(decideLookup('expired', 'h/p', 'h/p\nv', only('h/p'), only('h/p\nv'))).toBe('hit-for-pass')
    expect(decideLookup('expired', 'h/p', 'h/p\nv', none, only('h/p\nv'))).toBe('busy')
    expect(decideLookup('expired', 'h/p', 'h/p\nv', none, only('h/p'))).toBe('miss')
  })
})

describe('cacheStatusOf', () => {
  it('spells a row with its ttl and detail as RFC 9211 parameters', () => {
    expect(cacheStatusOf('hit', 60, null)).toBe('corral; hit; ttl=60')
    expect(cacheStatusOf('stale', -3, 'grace')).toBe('corral; hit; ttl=-3; detail=grace')
    expect(cacheStatusOf('miss', 0, 'no-store')).toBe('corral; fwd=uri-miss; detail=no-store')
    expect(cacheStatusOf('collapsed', 60, null)).toBe('corral; hit; detail=collapsed')
  })
})
