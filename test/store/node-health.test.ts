import { describe, expect, it } from 'vitest'
import { NodeHealth, TIMEOUTS_TO_MARK_DOWN } from '../../src/store/node-health.js'

const RETRY_MS = 1000

/** One operation from admission to outcome, at `now`. */
function operate (health: NodeHealth, outcome: 'answered' | 'timed-out' | 'failed', now: number): ReturnType<NodeHealth['settle']> {
  return health.settle(outcome, health.start(), now)
}

describe('NodeHealth', () => {
  it('marks a node down at once on a transport failure, reporting the transition once', () => {
    const health = new NodeHealth(RETRY_MS)
    expect(health.admit(0)).toBe('send')
    expect(operate(health, 'failed', 10)).toEqual({ markedDown: true, transition: 'down' })
    expect(health.state()).toEqual({ up: false, downSince: 10, errors: 0 })
    expect(health.isDown).toBe(true)
  })

  it('needs TIMEOUTS_TO_MARK_DOWN timeouts in a row, and an answer resets the run', () => {
    const health = new NodeHealth(RETRY_MS)
    for (let i = 1; i < TIMEOUTS_TO_MARK_DOWN; i++) expect(operate(health, 'timed-out', 0).markedDown).toBe(false)
    expect(operate(health, 'answered', 0)).toEqual({ markedDown: false, transition: null })
    for (let i = 1; i < TIMEOUTS_TO_MARK_DOWN; i++) expect(operate(health, 'timed-out', 0).markedDown).toBe(false)
    expect(operate(health, 'timed-out', 0)).toEqual({ markedDown: true, transition: 'down' })
  })

  it('does not count a timeout when the node answered something after the operation started (our own stall)', () => {
    const health = new NodeHealth(RETRY_MS)
    const late = Array.from({ length: TIMEOUTS_TO_MARK_DOWN }, () => health.start())
    health.settle('answered', health.start(), 0)
    for (const start of late) expect(health.settle('timed-out', start, 0).markedDown).toBe(false)
    expect(health.state().up).toBe(true)
  })

  it('skips while down, lets one probe through when the time is up, and keeps skipping the others until it settles', () => {
    const health = new NodeHealth(RETRY_MS)
    operate(health, 'failed', 0)
    expect(health.admit(RETRY_MS - 1)).toBe('skip')
    expect(health.admit(RETRY_MS)).toBe('probe')
    const probe = health.start()
    expect(probe.probe).toBe(true)
    expect(health.admit(RETRY_MS)).toBe('skip')
    // A probe that times out keeps the node down at once: no run of three, and no second 'down' transition.
    expect(health.settle('timed-out', probe, RETRY_MS + 50)).toEqual({ markedDown: true, transition: null })
    expect(health.state()).toEqual({ up: false, downSince: 0, errors: 0 })
    expect(health.admit(2 * RETRY_MS + 49)).toBe('skip')
    expect(health.admit(2 * RETRY_MS + 50)).toBe('probe')
    expect(health.settle('answered', health.start(), 2 * RETRY_MS + 60)).toEqual({ markedDown: false, transition: 'up' })
    expect(health.state()).toEqual({ up: true, downSince: null, errors: 0 })
    expect(health.admit(2 * RETRY_MS + 60)).toBe('send')
  })

  it('counts every error for /flags, whatever the state', () => {
    const health = new NodeHealth(RETRY_MS)
    health.countError()
    health.countError()
    expect(health.state().errors).toBe(2)
  })
})
