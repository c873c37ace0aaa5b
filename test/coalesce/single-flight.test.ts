import { describe, expect, it, vi } from 'vitest'
import { SingleFlight, PASS_OUTCOME } from '../../src/coalesce/single-flight.js'

describe('SingleFlight', () => {
  it('lets one caller lead a key; the others wait for its outcome', async () => {
    const flight = new SingleFlight(1000)
    const settle = flight.lead('k')
    expect(settle).not.toBeNull()
    expect(flight.lead('k')).toBeNull()
    const waiting = [flight.wait('k'), flight.wait('k')]
    expect(waiting[0]).toBe(waiting[1])
    settle?.(PASS_OUTCOME)
    expect(await Promise.all(waiting)).toEqual([PASS_OUTCOME, PASS_OUTCOME])
    expect(flight.wait('k')).toBeUndefined()
    expect(flight.wait('k')).toBeUndefined()
  })

  it('releases waiters with a 504 error when the flight outlives its deadline, and frees the key', async () => {
    vi.useFakeTimers()
    try {
      const flight = new SingleFlight(500)
      const settle = flight.lead('k')
      const waiting = flight.wait('k')
      vi.advanceTimersByTime(500)
      const outcome = await waiting
      expect(outcome?.kind).toBe('error')
      expect(outcome?.kind === 'error' && outcome.error.code).toBe('CORRAL_ERR_WAITER_TIMEOUT')
      expect(outcome?.kind === 'error' && outcome.error.status).toBe(504)
      // A late settle from the old leader must not disturb a new flight on the same key.
      const next = flight.lead('k')
      settle?.(PASS_OUTCOME)
      expect(flight.lead('k')).toBeNull()
      next?.(PASS_OUTCOME)
    } finally {
      vi.useRealTimers()
    }
  })
})
