/**
 * fetch: how corral talks to the origin: the one object the pipeline calls, `origin.request(req)`. It holds the
 * process's concurrency limiter and every origin group (group.ts balances, health-checks and fails over inside one);
 * the request's `group` (its route's `origin`) picks the group. Every failure becomes a CorralError with a stable code.
 * Body helpers live in body.ts, the request and response types in types.ts.  [I/O]
 */
import { performance } from 'node:perf_hooks'
import type { Config } from '../config/types.js'
import type { Logger } from '../core/log.js'
import type { Metrics } from '../core/metrics.js'
import type { OriginLimiter } from './limit.js'
import { DEFAULT_GROUP, resolveOriginGroups } from '../config/origin-groups.js'
import { OriginGroup, type GroupEvents, type ServerReport } from './group.js'

import type { OriginClient, OriginObserver, OriginRequest, OriginResponse } from './types.js'

export interface OriginDeps {
  /** The origin-duration metric, told of every answer's headers. */
  readonly observe?: OriginObserver
  /** Transition log lines (a server down, up). */
  readonly logger?: Logger
  /** Per-server requests and errors. */
  readonly metrics?: Metrics
  /** Wall-clock ms, for health deadlines. */
  readonly now?: () => number
}

export class Origin implements OriginClient {
  readonly #limiter: OriginLimiter | null
  readonly #events: GroupEvents
  readonly #observe: OriginObserver | null
  #groups = new Map<string, OriginGroup>()
  #default: OriginGroup | undefined
  #timeoutMs = 0
  #fillBodyTimeoutMs = 0
  #retries = 0

  /** `limiter` guards concurrent requests (origin.maxInFlight); a request holds its slot until its body is done. */
  constructor (config: Config, limiter: OriginLimiter | null = null, deps: OriginDeps = {}) {
    this.#limiter = limiter
    this.#events = makeEvents(deps)
    this.#observe = deps.observe ?? null
    this.update(config)
  }

  /**
   * Hot reload: timeouts and retries apply to the next request; groups and their servers are added, re-weighted and
   * removed live (a removed server drains). origin.connections applies to servers added from now on.
   */
  update (config: Config): void {
    this.#timeoutMs = config.origin.timeoutMs
    this.#fillBodyTimeoutMs = config.origin.fillBodyTimeoutMs
    this.#retries = config.origin.retries
    const pool = { connections: config.origin.connections, timeoutMs: config.origin.timeoutMs }
    const next = new Map<string, OriginGroup>()
    for (const spec of resolveOriginGroups(config)) {
      const existing = this.#groups.get(spec.name)
      if (existing === undefined) {
        next.set(spec.name, new OriginGroup(spec, pool, this.#events))
      } else {
        existing.update(spec, pool)
        next.set(spec.name, existing)
      }
    }
    for (const [name, group] of this.#groups) if (!next.has(name)) group.close().catch(noop)
    this.#groups = next
    this.#default = next.get(DEFAULT_GROUP)
  }

  get timeoutMs (): number {
    return this.#timeoutMs
  }

  get fillBodyTimeoutMs (): number {
    return this.#fillBodyTimeoutMs
  }

  /** Every group's servers and their state, for GET /flags and corral_origin_up. */
  report (): Record<string, ServerReport[]> {
    const now = this.#events.now()
    return Object.fromEntries([...this.#groups].map(([name, group]) => [name, group.report(now)]))
  }

  async request (req: OriginRequest): Promise<OriginResponse> {
    const limiter = this.#limiter
    const asked = performance.now()
    if (limiter === null) return this.#observed(await this.#send(req), asked)
    // Throws OriginBusyError when the queue is full or the wait times out: callers serve stale or shed.
    if (!limiter.tryAcquire()) await limiter.acquire()
    const started = performance.now()
    let response: OriginResponse
    try {
      response = this.#observed(await this.#send(req), asked)
    } catch (err) {
      limiter.release()
      throw err
    }
    // Latency to headers without the limiter's queue is the origin's think time, the signal the adaptive limit follows.
    const latencyMs = performance.now() - started
    let released = false
    const done = (): void => {
      if (released) return
      released = true
      limiter.release(latencyMs)
    }
    response.body.once('end', done)
    response.body.once('close', done)
    response.body.once('error', done)
    return response
  }

  #observed (response: OriginResponse, asked: number): OriginResponse {
    response.latencyMs = performance.now() - asked
    this.#observe?.(response.latencyMs, response.status)
    return response
  }

  async #send (req: OriginRequest): Promise<OriginResponse> {
    // load.ts refuses a route naming an unknown group, so the fallback only covers a request that began before a
    // reload removed its group.
    const group = (req.group === undefined ? undefined : this.#groups.get(req.group)) ?? this.#default as OriginGroup
    const timeoutMs = this.#timeoutMs
    const res = await group.request(req, timeoutMs, this.#retries)
    return { status: res.statusCode, headers: res.headers, body: res.body, timeoutMs, latencyMs: 0 }
  }

  /** Stop probing; requests in flight finish, then every pool closes. */
  async close (): Promise<void> {
    await Promise.all([...this.#groups.values()].map(async (g) => await g.close()))
  }
}

function makeEvents (deps: OriginDeps): GroupEvents {
  const { logger, metrics } = deps
  return {
    now: deps.now ?? Date.now,
    counters: (group, server) => {
      if (metrics === undefined) return { requests: { inc: noop }, error: noop }
      return {
        requests: metrics.originServerRequests.labels(group, server),
        error: (code) => metrics.originServerErrors.labels(group, server, code).inc()
      }
    },
    transition: (group, server, state, reason, backoffMs) => {
      if (state === 'up') logger?.info({ origin: group, server, state }, 'origin server up')
      else logger?.warn({ origin: group, server, state, reason, ...(backoffMs > 0 ? { backoffMs } : {}) }, 'origin server down')
    }
  }
}

function noop (): void {}
