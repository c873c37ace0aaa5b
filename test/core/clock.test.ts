import { describe, expect, it } from 'vitest'
import { performance } from 'node:perf_hooks'
import { systemClock, wallAt, wallNow } from '../../src/core/clock.js'

describe('wallNow', () => {
  it('reads the wall clock as an integer, within a millisecond of Date.now()', () => {
    for (let i = 0; i < 1000; i++) {
      const before = Date.now()
      const now = wallNow()
      const after = Date.now()
      expect(Number.isInteger(now)).toBe(true)
      expect(now).toBeGreaterThanOrEqual(before - 1)
      expect(now).toBeLessThanOrEqual(after + 1)
    }
    expect(systemClock.now).toBe(wallNow)
  })

  it('gives the wall-clock time of an earlier monotonic reading (a request\'s start)', () => {
    const mono = performance.now()
    const wall = wallNow()
    expect(Math.abs(wallAt(mono) - wall)).toBeLessThanOrEqual(1)
    expect(wallAt(mono - 5000)).toBe(wallAt(mono) - 5000)
    expect(systemClock.at).toBe(wallAt)
  })
})
