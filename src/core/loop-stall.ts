/**
 * loop-stall: was a deadline timer late because the event loop was busy? A dependency (memcached, an origin probe)
 * is judged by evidence a late timer alone does not give: a timer that fired well past its time ran on a stalled
 * loop, and the operation it timed may not even have been sent. Issue 23: under CPU load memcached was marked down
 * about 20 times in 10 minutes though it never stalled, switching fleet-wide coalescing off exactly when it was
 * needed.  [pure]
 */

/**
 * A timer this late (ms past its time) ran on a stalled event loop: most of its timeout again (4/5), and at least
 * 20 ms. Not less: on a loaded machine timers run 10-30 ms late all the time, and a node that really stopped
 * answering must still be caught by its timeouts (the full test suite on a busy 2-core machine showed a fifth of the
 * timeout hid a hung memcached). A 100 ms block against a 50 ms timeout is 50 ms late: a stall.
 */
export function isLoopStall (timerLateMs: number, timeoutMs: number): boolean {
  return timerLateMs >= Math.max(20, timeoutMs * 0.8)
}
