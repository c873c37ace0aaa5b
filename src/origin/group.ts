/**
 * origin/group: a named group of origin servers: balance each request over the usable ones (balance.ts), feed every
 * outcome and probe result to their health (health.ts), fail over once to another server for a request that may be
 * sent again (failover.ts), and apply a reloaded server list live (a removed server drains).  [I/O]
 */
import { performance } from 'node:perf_hooks'
import { isDeepStrictEqual } from 'node:util'
import type { Dispatcher } from 'undici'
import type { HealthConfig } from '../config/types.js'
import { OriginDownError, type CorralError } from '../core/errors.js'
import { toOriginError } from './body.js'
import { pickWeighted } from './balance.js'
import { classifyFailure, mayRetry } from './failover.js'
import type { GroupSpec } from '../config/origin-groups.js'
import { afterBackoff, afterOutcome, afterProbe, effectiveWeight, healthState, isUsable, type DownReason, type Outcome } from './health.js'
import { Prober } from './probe.js'
import { OriginServer, type PoolSettings, type ServerCounters } from './server.js'
import type { OriginRequest } from './types.js'

export type ServerState = 'up' | 'ejected' | 'down'

export interface GroupEvents {
  readonly now: () => number
  counters: (group: string, server: string) => ServerCounters
  /** A server stopped or started taking requests: one call per transition, never one per failed request. */
  transition: (group: string, server: string, state: ServerState, reason: DownReason | null, backoffMs: number) => void
}

/** One server as GET /flags shows it. */
export interface ServerReport {
  readonly url: string
  readonly weight: number
  readonly state: ServerState
  readonly reason: DownReason | null
  /** When a running ejection ends (ISO time; null: none running). */
  readonly ejectedUntil: string | null
}

export class OriginGroup {
  readonly name: string
  readonly #events: GroupEvents
  #pool: PoolSettings
  #servers: OriginServer[] = []
  #scores = new Float64Array(0)
  /** Scratch for one pick (picks are synchronous): each server's weight for this request, 0 when not a candidate. */
  #weights = new Float64Array(0)
  #health!: HealthConfig
  #prober: Prober<OriginServer> | null = null

  constructor (spec: GroupSpec, pool: PoolSettings, events: GroupEvents) {
    this.name = spec.name
    this.#pool = pool
    this.#events = events
    this.update(spec, pool)
  }

  get servers (): readonly OriginServer[] {
    return this.#servers
  }

  /**
   * Send `req` to one server; after a connection failure before any byte of the answer, once more (up to `retries`)
   * to another usable server, or the same one in a group of one, all within `timeoutMs`. Throws OriginDownError at
   * once when no server is usable, else the last attempt's error as a CorralError.
   */
  async request (req: OriginRequest, timeoutMs: number, retries: number): Promise<Dispatcher.ResponseData> {
    const started = performance.now()
    const tried: OriginServer[] = []
    let last: CorralError | null = null
    for (let attempt = 0; ; attempt++) {
      const server = this.#pick(this.#events.now(), tried)
      if (server === null) throw last ?? new OriginDownError(this.name)
      const left = attempt === 0 ? timeoutMs : Math.max(1, Math.round(timeoutMs - (performance.now() - started)))
      try {
        const res = await server.send(req, left, timeoutMs)
        this.record(server, { kind: 'answer', status: res.statusCode })
        // A body that breaks off or stalls counts against the server too (a client leaving destroys it without one).
        res.body.once('error', (err) => {
          const kind = classifyFailure(err)
          if (kind !== null) this.record(server, { kind: 'failure', reason: kind })
        })
        return res
      } catch (err) {
        const kind = classifyFailure(err)
        const error = toOriginError(err)
        server.counters.error(error.code)
        // A retry runs on what is left of the first try's time: its timeout says little about its server.
        if (kind !== null && (attempt === 0 || kind !== 'timeout')) this.record(server, { kind: 'failure', reason: kind })
        tried.push(server)
        if (attempt >= retries || !mayRetry(req.method, req.body != null, kind) || performance.now() - started >= timeoutMs) throw error
        last = error
      }
    }
  }

  /** A usable server not yet tried for this request, by weight; failing that, any usable one (a group of one). */
  #pick (now: number, tried: readonly OriginServer[]): OriginServer | null {
    const servers = this.#servers
    const weights = this.#weights
    const slowStartMs = this.#health.slowStartMs
    let anyTried = false
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i] as OriginServer
      const usable = isUsable(server.health, now)
      if (usable && tried.length !== 0 && tried.includes(server)) {
        anyTried = true
        weights[i] = 0
      } else {
        weights[i] = usable ? effectiveWeight(server.weight, server.health, now, slowStartMs) : 0
      }
    }
    let index = pickWeighted(this.#scores, weights)
    if (index === -1 && anyTried) {
      for (let i = 0; i < servers.length; i++) weights[i] = isUsable((servers[i] as OriginServer).health, now) ? 1 : 0
      index = pickWeighted(this.#scores, weights)
    }
    return index === -1 ? null : servers[index] as OriginServer
  }

  /** A request's outcome: health may eject the server (passive check). Also fed a body that broke mid-way. */
  record (server: OriginServer, outcome: Outcome): void {
    const now = this.#events.now()
    const before = server.health
    if (outcome.kind === 'answer' && outcome.status >= 500) server.counters.error('status-5xx')
    const after = afterOutcome(before, outcome, now, this.#health, this.#servers.length > 1)
    if (after === before) return
    server.health = after
    if (isUsable(before, now) && !isUsable(after, now)) this.#wentDown(server, now)
  }

  #onProbe (server: OriginServer, good: boolean): void {
    if (!this.#servers.includes(server)) return
    const now = this.#events.now()
    const before = server.health
    const after = afterProbe(before, good, now, this.#health)
    if (after === before) return
    server.health = after
    const was = isUsable(before, now)
    const is = isUsable(after, now)
    if (was && !is) this.#wentDown(server, now)
    else if (!was && is) this.#events.transition(this.name, server.spec.url, 'up', null, 0)
  }

  #wentDown (server: OriginServer, now: number): void {
    const { health } = server
    const state = healthState(health, now)
    const backoffMs = state === 'ejected' ? health.ejectedUntil - now : 0
    this.#events.transition(this.name, server.spec.url, state, health.reason, backoffMs)
    if (state === 'ejected') this.#scheduleReturn(server, backoffMs)
  }

  /** The back-off ends by the clock, not by an event: a timer says so, so the log and /flags do at once. */
  #scheduleReturn (server: OriginServer, delayMs: number): void {
    clearTimeout(server.backoffTimer)
    server.backoffTimer = setTimeout(() => {
      if (!this.#servers.includes(server)) return
      const now = this.#events.now()
      // A timer may fire a millisecond before the wall clock agrees.
      if (now < server.health.ejectedUntil) return this.#scheduleReturn(server, server.health.ejectedUntil - now)
      const before = server.health
      server.health = afterBackoff(before)
      if (before.reason !== null && isUsable(server.health, now)) this.#events.transition(this.name, server.spec.url, 'up', null, 0)
    }, Math.max(1, delayMs))
    server.backoffTimer.unref()
  }

  /**
   * Apply a (re)loaded spec: servers kept by URL keep their pool and health, new ones start up, removed ones stop
   * taking requests at once and close once their requests in flight are done. `pool` applies to new servers.
   */
  update (spec: GroupSpec, pool: PoolSettings): void {
    this.#pool = pool
    const healthChanged = !isDeepStrictEqual(this.#health, spec.health)
    this.#health = spec.health
    const kept = new Map(this.#servers.map((s) => [s.spec.url, s]))
    const next = spec.servers.map((s) => {
      const existing = kept.get(s.url)
      kept.delete(s.url)
      if (existing === undefined) return new OriginServer(s, this.#pool, this.#events.counters(this.name, s.url))
      existing.weight = s.weight
      return existing
    })
    const changed = next.length !== this.#servers.length || next.some((s, i) => s !== this.#servers[i])
    this.#servers = next
    if (changed) {
      this.#scores = new Float64Array(next.length)
      this.#weights = new Float64Array(next.length)
    }
    for (const removed of kept.values()) removed.close().catch(noop)
    if (healthChanged) {
      this.#prober?.stop()
      const path = spec.health.path
      this.#prober = path === undefined ? null : new Prober(path, spec.health, () => this.#servers, (s, good) => this.#onProbe(s, good))
    }
  }

  report (now: number): ServerReport[] {
    return this.#servers.map((s) => ({
      url: s.spec.url,
      weight: s.weight,
      state: healthState(s.health, now),
      reason: s.health.reason,
      ejectedUntil: now < s.health.ejectedUntil ? new Date(s.health.ejectedUntil).toISOString() : null
    }))
  }

  async close (): Promise<void> {
    this.#prober?.stop()
    this.#prober = null
    await Promise.all(this.#servers.map(async (s) => await s.close()))
  }
}

function noop (): void {}
