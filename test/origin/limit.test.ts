import { afterEach, describe, expect, it, vi } from 'vitest'
import { OriginBusyError } from '../../src/core/errors.js'
import { ADAPTIVE_DEFAULT_MAX, ADAPTIVE_MIN_LIMIT, OriginLimiter, type OriginLimitOptions } from '../../src/origin/limit.js'

const BASE: OriginLimitOptions = { maxInFlight: 5, queueSize: 100, queueTimeoutMs: 1000, adaptive: false }

// Lets settled promises run their callbacks; no timers involved.
async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

/** Starts `count` acquires and counts those that got a slot, noting the most in flight any of them saw. */
function acquireMany (limiter: OriginLimiter, count: number): { granted: () => number, maxSeen: () => number, errors: unknown[] } {
  let granted = 0
  let maxSeen = 0
  const errors: unknown[] = []
  for (let i = 0; i < count; i++) {
    limiter.acquire().then(() => {
      granted++
      maxSeen = Math.max(maxSeen, limiter.inFlight)
    }, (err: unknown) => { errors.push(err) })
  }
  return { granted: () => granted, maxSeen: () => maxSeen, errors }
}

afterEach(() => { vi.useRealTimers() })

describe('OriginLimiter with a fixed cap', () => {
  it('never lets more than maxInFlight through, and hands each freed slot to one waiter', async () => {
    const limiter = new OriginLimiter(BASE)
    const run = acquireMany(limiter, 50)
    await settle()
    expect(run.granted()).toBe(5)
    expect(limiter.inFlight).toBe(5)
    expect(limiter.queued).toBe(45)
    expect(limiter.tryAcquire()).toBe(false)
    for (let done = 1; done <= 45; done++) {
      limiter.release()
      await settle()
      expect(run.granted()).toBe(5 + done)
      expect(limiter.inFlight).toBe(5)
    }
    expect(run.maxSeen()).toBe(5)
    expect(limiter.queued).toBe(0)
    for (let i = 0; i < 5; i++) limiter.release()
    expect(limiter.inFlight).toBe(0)
    expect(run.errors).toEqual([])
  })

  it('is unlimited with maxInFlight 0 and never saturated', () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 0 })
    for (let i = 0; i < 10_000; i++) expect(limiter.tryAcquire()).toBe(true)
    expect(limiter.limit).toBe(Number.POSITIVE_INFINITY)
    expect(limiter.saturated).toBe(false)
  })

  it('rejects with OriginBusyError once the queue is full, and reports saturation', async () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 2, queueSize: 3 })
    const run = acquireMany(limiter, 5)
    await settle()
    expect(limiter.saturated).toBe(true)
    const err = await limiter.acquire().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OriginBusyError)
    expect((err as OriginBusyError).code).toBe('CORRAL_ERR_ORIGIN_BUSY')
    expect((err as OriginBusyError).status).toBe(503)
    expect(limiter.queued).toBe(3)
    limiter.release()
    await settle()
    expect(limiter.saturated).toBe(false)
    expect(run.granted()).toBe(3)
  })

  it('does not queue at all with queueSize 0', async () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 1, queueSize: 0 })
    expect(limiter.tryAcquire()).toBe(true)
    expect(limiter.saturated).toBe(true)
    await expect(limiter.acquire()).rejects.toMatchObject({ code: 'CORRAL_ERR_ORIGIN_BUSY' })
  })

  it('gives up on a waiter after queueTimeoutMs', async () => {
    vi.useFakeTimers()
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 1, queueTimeoutMs: 250 })
    expect(limiter.tryAcquire()).toBe(true)
    const waiting = limiter.acquire().catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(249)
    expect(limiter.queued).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(await waiting).toMatchObject({ code: 'CORRAL_ERR_ORIGIN_BUSY' })
    expect(limiter.queued).toBe(0)
    // The timed-out waiter must not take the slot freed later.
    limiter.release()
    expect(limiter.inFlight).toBe(0)
  })

  it('keeps a waiter whose queueTimeoutMs is beyond setTimeout\'s range instead of shedding it after 1 ms', async () => {
    vi.useFakeTimers()
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 1, queueTimeoutMs: 3_000_000_000 })
    expect(limiter.tryAcquire()).toBe(true)
    const outcome: unknown[] = []
    limiter.acquire().then(() => outcome.push('granted'), (err: unknown) => outcome.push(err))
    vi.advanceTimersByTime(1000)
    await settle()
    expect(outcome).toEqual([])
    expect(limiter.queued).toBe(1)
    limiter.release()
    await settle()
    expect(outcome).toEqual(['granted'])
  })

  it('update() raising the cap lets waiters in at once', async () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 2 })
    const run = acquireMany(limiter, 6)
    await settle()
    expect(run.granted()).toBe(2)
    limiter.update({ ...BASE, maxInFlight: 4 })
    await settle()
    expect(run.granted()).toBe(4)
    expect(limiter.inFlight).toBe(4)
    expect(limiter.queued).toBe(2)
  })

  it('update() lowering the cap takes effect as requests finish, keeping the waiters', async () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 4 })
    const run = acquireMany(limiter, 6)
    await settle()
    limiter.update({ ...BASE, maxInFlight: 2, queueSize: 1 })
    expect(limiter.limit).toBe(2)
    expect(limiter.queued).toBe(2)
    limiter.release()
    limiter.release()
    await settle()
    expect(limiter.inFlight).toBe(2)
    expect(run.granted()).toBe(4)
    limiter.release()
    await settle()
    expect(limiter.inFlight).toBe(2)
    expect(run.granted()).toBe(5)
  })

  it('checks its options once, with the option named', () => {
    expect(() => new OriginLimiter({ ...BASE, maxInFlight: -1 })).toThrow(/options\.maxInFlight/)
    expect(() => new OriginLimiter({ ...BASE, queueSize: 1.5 })).toThrow(/options\.queueSize/)
  })
})

describe('OriginLimiter in adaptive mode', () => {
  /** Completes `count` requests of `latencyMs` each while keeping the limiter busy (in flight = limit). */
  function feed (limiter: OriginLimiter, latencyMs: number, count: number): void {
    for (let i = 0; i < count; i++) {
      while (limiter.tryAcquire());
      limiter.release(latencyMs)
    }
  }

  it('starts at the ceiling and lowers the limit when latency rises, never below the floor', () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 100, adaptive: true })
    expect(limiter.limit).toBe(100)
    feed(limiter, 10, 200)
    expect(limiter.limit).toBe(100)
    const limits: number[] = []
    for (let i = 0; i < 40; i++) {
      feed(limiter, 60, 1)
      limits.push(limiter.limit)
    }
    // Each slow sample lowers the limit (or holds it at the floor); none raises it.
    for (let i = 1; i < limits.length; i++) expect(limits[i]).toBeLessThanOrEqual(limits[i - 1] ?? 0)
    expect(limits[10]).toBeLessThan(60)
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(ADAPTIVE_MIN_LIMIT)
  })

  it('ignores one slow request among fast ones', () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 100, adaptive: true })
    feed(limiter, 10, 200)
    feed(limiter, 200, 1)
    expect(limiter.limit).toBeGreaterThanOrEqual(90)
  })

  it('grows back once latency returns to normal', () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 100, adaptive: true })
    feed(limiter, 10, 200)
    feed(limiter, 100, 100)
    const low = limiter.limit
    expect(low).toBeLessThan(20)
    feed(limiter, 10, 400)
    expect(limiter.limit).toBe(100)
  })

  it('uses the default ceiling when maxInFlight is 0, and switching off restores the fixed cap', () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 0, adaptive: true })
    expect(limiter.limit).toBe(ADAPTIVE_DEFAULT_MAX)
    limiter.update({ ...BASE, maxInFlight: 0, adaptive: false })
    expect(limiter.limit).toBe(Number.POSITIVE_INFINITY)
  })

  it('ignores latencies while adaptive mode is off', () => {
    const limiter = new OriginLimiter({ ...BASE, maxInFlight: 50 })
    feed(limiter, 10, 50)
    feed(limiter, 1000, 50)
    expect(limiter.limit).toBe(50)
  })
})
