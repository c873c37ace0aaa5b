/**
 * origin/server: one origin server: its keep-alive undici Pool, its health, and one request sent to it with a
 * deadline on the whole way to the headers.  [I/O]
 */
import { Pool, type Dispatcher } from 'undici'
import { OriginTimeoutError } from '../core/errors.js'
import { abandon } from './body.js'
import type { ServerSpec } from '../config/origin-groups.js'
import { HEALTHY, type ServerHealth } from './health.js'
import type { OriginRequest } from './types.js'

export interface PoolSettings {
  /** origin.connections: keep-alive connections per server. */
  readonly connections: number
  readonly timeoutMs: number
}

/** Per-server counters (corral_origin_server_requests_total / _errors_total), bound once per server. */
export interface ServerCounters {
  readonly requests: { inc: () => void }
  error: (code: string) => void
}

export class OriginServer {
  readonly spec: ServerSpec
  readonly counters: ServerCounters
  readonly #pool: Pool
  weight: number
  health: ServerHealth = HEALTHY
  /** Runs while an ejection lasts, to log (and count) the server's return when its back-off is over. */
  backoffTimer: ReturnType<typeof setTimeout> | undefined

  constructor (spec: ServerSpec, pool: PoolSettings, counters: ServerCounters) {
    this.spec = spec
    this.weight = spec.weight
    this.counters = counters
    this.#pool = new Pool(spec.origin, {
      connections: pool.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: Math.min(pool.timeoutMs, 10_000) },
      headersTimeout: pool.timeoutMs,
      bodyTimeout: pool.timeoutMs
    })
  }

  /**
   * headersTimeout only starts once a request is on a connection: one queued in the pool behind busy connections
   * would wait there with no timer at all (and undici looks at an abort signal only once it dequeues the request).
   * So the whole way to the headers (queue, connect, send, answer) gets `timeoutMs`, cleared once they arrive, or
   * once undici starts reading a request body: a slow upload stays bounded by listen.requestTimeoutMs and the
   * origin's answer by headersTimeout, as before. `bodyTimeoutMs` is origin.timeoutMs in full: a retry's shorter
   * wait for headers does not shorten the gaps its body may take.
   */
  async send (req: OriginRequest, timeoutMs: number, bodyTimeoutMs: number): Promise<Dispatcher.ResponseData> {
    this.counters.requests.inc()
    const deadline = new AbortController()
    // A pass whose client left: aborted at once, not at the origin's own timeout (client-gone.ts).
    if (req.signal !== undefined) linkAbort(req.signal, deadline)
    const sent = this.#pool.request({
      method: req.method as 'GET',
      path: this.spec.basePath + req.path,
      headers: req.headers,
      body: req.body ?? null,
      headersTimeout: timeoutMs,
      bodyTimeout: bodyTimeoutMs,
      signal: deadline.signal
    })
    return await new Promise((resolve, reject) => {
      const clear = (): void => {
        clearTimeout(timer)
        req.body?.off('resume', clear)
      }
      const timer = setTimeout(() => {
        clear()
        const err = new OriginTimeoutError(new QueueTimeoutError(timeoutMs))
        reject(err)
        // Aborted, the request never reaches the origin once dequeued; an answer racing the deadline is dropped.
        deadline.abort(err)
        sent.then((late) => abandon(late.body), noop)
      }, timeoutMs)
      req.body?.once('resume', clear)
      sent.then((res) => {
        clear()
        resolve(res)
      }, (err: unknown) => {
        clear()
        reject(err)
      })
    })
  }

  /** Stop taking requests: the ones in flight finish (a removed server drains), then the connections close. */
  async close (): Promise<void> {
    clearTimeout(this.backoffTimer)
    await this.#pool.close()
  }
}

/** No connection to the origin became free (or none answered) within origin.timeoutMs. */
class QueueTimeoutError extends Error {
  readonly code = 'CORRAL_ERR_ORIGIN_QUEUE_TIMEOUT'
  constructor (timeoutMs: number) {
    super(`no origin response headers within ${timeoutMs} ms (queued for a connection, or not answered)`)
    this.name = 'QueueTimeoutError'
  }
}

function linkAbort (from: AbortSignal, to: AbortController): void {
  if (from.aborted) to.abort(from.reason)
  else from.addEventListener('abort', () => to.abort(from.reason), { once: true })
}

function noop (): void {}
