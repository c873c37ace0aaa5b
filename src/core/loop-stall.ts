/**
 * loop-stall: was a deadline timer late because the event loop was busy? A dependency (memcached, an origin probe)
 * is judged by evidence a late timer alone does not give: a timer that fired well past its time ran on a stalled
 * loop, and the operation it timed may not even have been sent. Issue 23: under CPU load memcached was marked down
 * about 20 times in 10 minutes though it never stalled, switching fleet-wide coalescing off exactly when it was
 * needed.  [pure]
 */

/**
 * A timer this late (ms past its time) ran on a stalled event loop: a fifth of the timeout, and at least 5 ms (the
 * resolution of a busy loop's timers).
 */
export function isLoopStall (timerLateMs: number, timeoutMs: number): boolean {
  return timerLateMs >= Math.max(5, timeoutMs / 5)
}
