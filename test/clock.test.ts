import { describe, expect, it } from 'vitest'
import { systemClock, wallNow } from '../src/clock.js'

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
})
