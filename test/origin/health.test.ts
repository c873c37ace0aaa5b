import { describe, expect, it } from 'vitest'
import type { HealthConfig } from '../../src/config/types.js'
import { HEALTHY, afterBackoff, afterOutcome, afterProbe, effectiveWeight, healthState, isUsable, type ServerHealth } from '../../src/origin/health.js'

const OPTIONS: HealthConfig = { intervalMs: 2000, timeoutMs: 1000, upAfter: 2, downAfter: 3, failuresToEject: 2, ejectMs: 1000, maxEjectMs: 4000, errorRatePercent: 0, errorWindowRequests: 20, slowStartMs: 0 }
const T = 1_000_000

function fail (h: ServerHealth, now: number, options = OPTIONS, mayEject = true): ServerHealth {
  return afterOutcome(h, { kind: 'failure', reason: 'connect-failure' }, now, options, mayEject)
}

describe('passive health', () => {
  it('ejects after failuresToEject failures in a row, for ejectMs, then takes requests again', () => {
    const once = fail(HEALTHY, T)
    expect(isUsable(once, T)).toBe(true)
    const twice = fail(once, T)
    expect(isUsable(twice, T)).toBe(false)
    expect(healthState(twice, T)).toBe('ejected')
    expect(twice.reason).toBe('connect-failure')
    expect(isUsable(twice, T + 999)).toBe(false)
    expect(isUsable(twice, T + 1000)).toBe(true)
    expect(afterBackoff(twice).reason).toBeNull()
  })

  it('a success between failures resets the count', () => {
    const h = afterOutcome(fail(HEALTHY, T), { kind: 'answer', status: 200 }, T, OPTIONS, true)
    expect(isUsable(fail(h, T), T)).toBe(true)
  })

  it('doubles the back-off for each ejection in a row, up to maxEjectMs, and a success resets it', () => {
    let h = HEALTHY
    let now = T
    const backoffs: number[] = []
    for (let i = 0; i < 4; i++) {
      h = fail(fail(h, now), now)
      backoffs.push(h.ejectedUntil - now)
      now = h.ejectedUntil
    }
    expect(backoffs).toEqual([1000, 2000, 4000, 4000])
    h = afterOutcome(h, { kind: 'answer', status: 200 }, now, OPTIONS, true)
    h = fail(fail(h, now), now)
    expect(h.ejectedUntil - now).toBe(1000)
  })

  it('never ejects the server of a group of one', () => {
    const h = fail(fail(fail(HEALTHY, T, OPTIONS, false), T, OPTIONS, false), T, OPTIONS, false)
    expect(isUsable(h, T)).toBe(true)
  })

  it('a failure arriving during an ejection does not extend it', () => {
    const ejected = fail(fail(HEALTHY, T), T)
    const later = fail(fail(ejected, T + 500), T + 500)
    expect(later.ejectedUntil).toBe(ejected.ejectedUntil)
  })

  it('ejects on the 5xx rate of a full window when errorRatePercent is set, and not below it', () => {
    const options = { ...OPTIONS, errorRatePercent: 50, errorWindowRequests: 10 }
    let h = HEALTHY
    for (let i = 0; i < 10; i++) h = afterOutcome(h, { kind: 'answer', status: i < 4 ? 503 : 200 }, T, options, true)
    expect(isUsable(h, T)).toBe(true)
    expect(h.windowAnswers).toBe(0)
    for (let i = 0; i < 10; i++) h = afterOutcome(h, { kind: 'answer', status: i < 5 ? 500 : 200 }, T, options, true)
    expect(isUsable(h, T)).toBe(false)
    expect(h.reason).toBe('error-rate')
  })

  it('ignores 5xx answers while errorRatePercent is 0', () => {
    let h = HEALTHY
    for (let i = 0; i < 100; i++) h = afterOutcome(h, { kind: 'answer', status: 503 }, T, OPTIONS, true)
    expect(h).toBe(HEALTHY)
  })
})

describe('active probe', () => {
  it('marks down after downAfter bad probes in a row and up after upAfter good ones', () => {
    let h = afterProbe(afterProbe(HEALTHY, false, T, OPTIONS), false, T, OPTIONS)
    expect(isUsable(h, T)).toBe(true)
    h = afterProbe(h, false, T, OPTIONS)
    expect(healthState(h, T)).toBe('down')
    expect(h.reason).toBe('probe')
    h = afterProbe(h, true, T + 1, OPTIONS)
    expect(isUsable(h, T + 1)).toBe(false)
    h = afterProbe(h, true, T + 2, OPTIONS)
    expect(isUsable(h, T + 2)).toBe(true)
    expect(h.probeUpAt).toBe(T + 2)
  })

  it('a good probe between bad ones starts the count again', () => {
    let h = afterProbe(afterProbe(HEALTHY, false, T, OPTIONS), false, T, OPTIONS)
    h = afterProbe(h, true, T, OPTIONS)
    h = afterProbe(afterProbe(h, false, T, OPTIONS), false, T, OPTIONS)
    expect(isUsable(h, T)).toBe(true)
  })

  it('returns the same object while nothing changes (the group tells a transition by identity)', () => {
    expect(afterProbe(HEALTHY, true, T, OPTIONS)).toBe(HEALTHY)
  })
})

describe('slow start', () => {
  it('ramps from a tenth of the weight to all of it after a back-off', () => {
    const ejected = fail(fail(HEALTHY, T), T)
    const back = ejected.ejectedUntil
    expect(effectiveWeight(10, ejected, back, 1000)).toBe(1)
    expect(effectiveWeight(10, ejected, back + 500, 1000)).toBe(5)
    expect(effectiveWeight(10, ejected, back + 1000, 1000)).toBe(10)
    expect(effectiveWeight(10, ejected, back, 0)).toBe(10)
  })

  it('gives a server that was never out its full weight from the start', () => {
    expect(effectiveWeight(4, HEALTHY, T, 60_000)).toBe(4)
  })
})
