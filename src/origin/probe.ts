/**
 * origin/probe: the active health check (Varnish's .probe): GET health.path on every server of a group each
 * intervalMs, over a connection of its own (a probe queued behind a busy pool would time out and mark a healthy,
 * busy server down), and report good (2xx, 3xx) or bad (any other status, an error, no answer in timeoutMs).  [I/O]
 */
import { performance } from 'node:perf_hooks'
import { Agent, errors, request } from 'undici'
import { isLoopStall } from '../core/loop-stall.js'
import type { HealthConfig } from '../config/types.js'

/** What a probe needs of a server: its URL (server.ts's OriginServer is one; the probe never touches its pool). */
export interface Probed {
  readonly spec: { readonly url: string }
}

/** One keep-alive connection per server for every group's probes: a probe per interval needs no more. */
const probeAgent = new Agent({ connections: 1, keepAliveTimeout: 60_000, pipelining: 1 })

export class Prober<S extends Probed> {
  readonly #timer: ReturnType<typeof setInterval>
  readonly #inFlight = new WeakSet<S>()
  #stopped = false

  /** Probes at once, then every intervalMs, the servers `servers()` lists at that moment (a reload changes them). */
  constructor (
    readonly path: string,
    readonly options: HealthConfig,
    servers: () => readonly S[],
    onResult: (server: S, good: boolean) => void
  ) {
    const round = (): void => {
      if (this.#stopped) return
      for (const server of servers()) {
        // A probe still waiting (timeoutMs above intervalMs) is not doubled.
        if (this.#inFlight.has(server)) continue
        this.#inFlight.add(server)
        probeOnce(server, path, options.timeoutMs).then((good) => {
          this.#inFlight.delete(server)
          if (!this.#stopped && good !== null) onResult(server, good)
        }, () => { this.#inFlight.delete(server) })
      }
    }
    this.#timer = setInterval(round, options.intervalMs)
    this.#timer.unref()
    setImmediate(round)
  }

  stop (): void {
    this.#stopped = true
    clearInterval(this.#timer)
  }
}

/** Good, bad, or null: no verdict (a timeout whose timer ran late on a stalled event loop says nothing of the server). */
async function probeOnce (server: Probed, path: string, timeoutMs: number): Promise<boolean | null> {
  const started = performance.now()
  try {
    const res = await request(server.spec.url + path, {
      dispatcher: probeAgent,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'user-agent': 'corral-probe' }
    })
    await res.body.dump()
    return res.statusCode >= 200 && res.statusCode < 400
  } catch (err) {
    return judgeFailedProbe(err, performance.now() - started, timeoutMs)
  }
}

/**
 * A failed probe is bad, except one that timed out well past its time: that deadline fired late on a busy event
 * loop (core/loop-stall.ts), so it is no verdict, and downAfter counts only probes that measured the server.
 */
export function judgeFailedProbe (err: unknown, elapsedMs: number, timeoutMs: number): false | null {
  const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' ||
    err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError)
  return timedOut && isLoopStall(elapsedMs - timeoutMs, timeoutMs) ? null : false
}
