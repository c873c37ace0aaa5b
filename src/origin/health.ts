/**
 * origin/health: is an origin server fit for requests now? Two verdicts, kept apart because they heal differently:
 * - passive (nginx's max_fails/fail_timeout, Envoy's outlier detection): failures of real requests eject a server
 *   for a back-off that doubles per ejection in a row; when it is over the server takes requests again, and a success
 *   resets the back-off;
 * - active (Varnish's .probe): with health.path, downAfter bad probes in a row mark it down, upAfter good ones up.
 * A server is usable while the probe says up and no ejection runs. Every function takes `now` and returns the next
 * state (the same object when nothing changed), so the group can tell a transition by identity and log it once.  [pure]
 */
import type { HealthConfig } from '../config/types.js'

export interface ServerHealth {
  /** The active probe's verdict; 'up' while no probe runs. */
  readonly probe: 'up' | 'down'
  /** Probe results in a row that disagree with `probe` (the count towards upAfter / downAfter). */
  readonly probeStreak: number
  /** Connection failures, resets and timeouts in a row (the count towards failuresToEject). */
  readonly failures: number
  /** Ejections in a row, the back-off's exponent; a success resets it. */
  readonly ejections: number
  /** Epoch ms until which the server is ejected (0: never was). */
  readonly ejectedUntil: number
  /** Epoch ms when the probe last marked it up (0: from the start), for slow start. */
  readonly probeUpAt: number
  /** The 5xx-rate window: answers and 5xx answers counted so far. */
  readonly windowAnswers: number
  readonly windowErrors: number
  /** Why it is unusable, for /flags and the transition log line; null while usable. */
  readonly reason: DownReason | null
}

export type DownReason = 'connect-failure' | 'timeout' | 'reset' | 'error-rate' | 'probe'

/** What one request's outcome was, as health counts it. */
export type Outcome =
  | { readonly kind: 'answer', readonly status: number }
  | { readonly kind: 'failure', readonly reason: 'connect-failure' | 'timeout' | 'reset' }

export const HEALTHY: ServerHealth = Object.freeze({
  probe: 'up', probeStreak: 0, failures: 0, ejections: 0, ejectedUntil: 0, probeUpAt: 0, windowAnswers: 0, windowErrors: 0, reason: null
})

export function isUsable (h: ServerHealth, now: number): boolean {
  return h.probe === 'up' && now >= h.ejectedUntil
}

/** 'up', 'ejected' (passive back-off running) or 'down' (the probe's verdict): the state /flags shows. */
export function healthState (h: ServerHealth, now: number): 'up' | 'ejected' | 'down' {
  if (h.probe === 'down') return 'down'
  return now < h.ejectedUntil ? 'ejected' : 'up'
}

/**
 * A request's outcome. `mayEject` is false for a group of one server: ejecting it leaves nothing to fail over to
 * and only turns an origin that may already be back into errors (nginx ignores max_fails for a lone server too).
 */
export function afterOutcome (h: ServerHealth, outcome: Outcome, now: number, options: HealthConfig, mayEject: boolean): ServerHealth {
  if (outcome.kind === 'failure') {
    const failures = h.failures + 1
    if (!mayEject || failures < options.failuresToEject || now < h.ejectedUntil) return { ...h, failures }
    return eject(h, now, options, outcome.reason)
  }
  const is5xx = outcome.status >= 500 && outcome.status <= 599
  let next = h
  // A success after an ejection ends the streak: the next ejection starts again at ejectMs.
  if (h.failures !== 0 || (h.ejections !== 0 && !is5xx)) next = { ...h, failures: 0, ejections: is5xx ? h.ejections : 0 }
  if (options.errorRatePercent === 0) return next
  const windowAnswers = next.windowAnswers + 1
  const windowErrors = next.windowErrors + (is5xx ? 1 : 0)
  if (windowAnswers < options.errorWindowRequests) return { ...next, windowAnswers, windowErrors }
  // A tumbling window: decided once it is full, then counted afresh.
  const counted = { ...next, windowAnswers: 0, windowErrors: 0 }
  if (!mayEject || windowErrors * 100 < options.errorRatePercent * windowAnswers || now < h.ejectedUntil) return counted
  return eject(counted, now, options, 'error-rate')
}

function eject (h: ServerHealth, now: number, options: HealthConfig, reason: DownReason): ServerHealth {
  const backoffMs = Math.min(options.maxEjectMs, options.ejectMs * 2 ** Math.min(h.ejections, 20))
  return { ...h, failures: 0, ejections: h.ejections + 1, ejectedUntil: now + backoffMs, reason }
}

/** One active probe's result. */
export function afterProbe (h: ServerHealth, good: boolean, now: number, options: HealthConfig): ServerHealth {
  const agrees = (h.probe === 'up') === good
  if (agrees) return h.probeStreak === 0 ? h : { ...h, probeStreak: 0 }
  const probeStreak = h.probeStreak + 1
  if (h.probe === 'up' && probeStreak >= options.downAfter) return { ...h, probe: 'down', probeStreak: 0, reason: 'probe' }
  // Up again on the probe's word: a passive back-off still running is not cut short by it.
  if (h.probe === 'down' && probeStreak >= options.upAfter) return { ...h, probe: 'up', probeStreak: 0, probeUpAt: now, reason: now < h.ejectedUntil ? h.reason : null }
  return { ...h, probeStreak }
}

/** A server not usable at `now` whose ejection was what kept it out: its back-off just ended. */
export function afterBackoff (h: ServerHealth): ServerHealth {
  return h.reason === null || h.probe === 'down' ? h : { ...h, reason: null }
}

/** Slow start: SLOW_START_FLOOR of its weight right after it came back, growing linearly to all of it. */
const SLOW_START_FLOOR = 0.1

/**
 * The weight a usable server balances with at `now`. After a back-off or a probe's "up" it ramps over slowStartMs
 * (off at 0); a server that was never out (time 0) gets its full weight from the start.
 */
export function effectiveWeight (weight: number, h: ServerHealth, now: number, slowStartMs: number): number {
  if (slowStartMs === 0) return weight
  const since = Math.max(h.ejectedUntil, h.probeUpAt)
  if (since === 0 || now - since >= slowStartMs) return weight
  return weight * Math.max(SLOW_START_FLOOR, (now - since) / slowStartMs)
}
