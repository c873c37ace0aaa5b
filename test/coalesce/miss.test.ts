/**
 * The miss path's rules without a socket: a fake origin (answers the test releases), a fake clock, the memory store,
 * and for the fleet rules the real memcached the run shares. Every rule here is also covered end to end in
 * test/integration/; these pin the outcome each path returns to the pipeline.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { Coalescer, type MissNotes, type MissOutcome } from '../../src/coalesce/miss.js'
import { SingleFlight } from '../../src/coalesce/single-flight.js'
import { decideLookup } from '../../src/policy/lookup.js'
import { HitForPass } from '../../src/coalesce/hit-for-pass.js'
import { FleetLease } from '../../src/coalesce/lease.js'
import type { FillContext, FillRequest } from '../../src/fill.js'
import type { OriginClient, OriginRequest, OriginResponse } from '../../src/origin/types.js'
import { OriginUnreachableError } from '../../src/core/errors.js'
import { MemoryStore } from '../../src/store/memory.js'
import { MemcachedStore } from '../../src/store/memcached.js'
import type { CacheStore } from '../../src/store/types.js'
import type { StoredEntry } from '../../src/core/entry.js'
import { Metrics } from '../../src/core/metrics.js'
import { makeLogger } from '../../src/core/log.js'

const T0 = 1_700_000_000_000

interface Reply { status: number, headers: Record<string, string>, body: string }

/** An origin the test answers by hand: each request waits until `reply` (or `fail`) releases it. */
class FakeOrigin implements OriginClient {
  readonly timeoutMs = 5000
  readonly requests: OriginRequest[] = []
  readonly #held: Array<{ resolve: (r: OriginResponse) => void, reject: (e: unknown) => void }> = []
  readonly #waiting: Array<() => void> = []

  async request (req: OriginRequest): Promise<OriginResponse> {
    this.requests.push(req)
    const held = new Promise<OriginResponse>((resolve, reject) => this.#held.push({ resolve, reject }))
    for (const wake of this.#waiting.splice(0)) wake()
    return await held
  }

  /** Resolves once `n` requests have reached the origin. */
  async asked (n: number): Promise<void> {
    while (this.requests.length < n) await new Promise<void>((resolve) => this.#waiting.push(resolve))
  }

  reply ({ status, headers, body }: Reply): Readable {
    const next = this.#held.shift()
    if (next === undefined) throw new Error('no origin request is waiting')
    const stream = Readable.from([Buffer.from(body)])
    next.resolve({ status, headers: { 'content-length': String(Buffer.byteLength(body)), ...headers }, body: stream, timeoutMs: this.timeoutMs, latencyMs: 7 })
    return stream
  }

  fail (): void {
    this.#held.shift()?.reject(new OriginUnreachableError(new Error('ECONNREFUSED')))
  }
}

const cacheable: Reply = { status: 200, headers: { 'cache-control': 'max-age=60' }, body: 'page' }

interface Rig {
  readonly origin: FakeOrigin
  readonly store: CacheStore
  readonly flight: SingleFlight
  readonly hitForPass: HitForPass
  readonly metrics: Metrics
  readonly coalescer: Coalescer
  clock: number
}

function rig (store: CacheStore = new MemoryStore({ maxBytes: 1 << 22 }), fleet: FleetLease | null = null): Rig {
  const origin = new FakeOrigin()
  const flight = new SingleFlight(5000)
  const hitForPass = new HitForPass(60_000)
  const metrics = new Metrics()
  const r = { origin, store, flight, hitForPass, metrics, clock: T0 } as Rig & { coalescer: Coalescer }
  const ctx: FillContext = {
    origin,
    store,
    now: () => r.clock,
    storeOptions: { graceSeconds: 0, staleIfErrorSeconds: 0, heuristicFraction: 0, storeSetCookie: false, keepStaleSeconds: 0 },
    maxObjectBytes: 1 << 20,
    fillHeaders: { dropped: [], keyed: [] },
    logger: makeLogger('silent')
  }
  r.coalescer = new Coalescer({ flight, hitForPass, metrics, logger: makeLogger('silent') }, ctx, fleet)
  return r
}

function request (key: string, headers: Record<string, string> = {}, stale?: StoredEntry): FillRequest {
  return {
    key,
    primaryKey: key,
    varyIndex: null,
    path: '/p',
    client: { headers: { host: 'h', ...headers }, address: '127.0.0.1', keyHost: 'h' },
    stale,
    credentialed: headers.cookie !== undefined || headers.authorization !== undefined,
    group: 'origin'
  }
}

/** What the pipeline's miss step does: decide the lookup verdict, take that road, decide again on `retry`. */
async function miss (r: Rig, req: FillRequest, n: MissNotes, isHead: boolean): Promise<MissOutcome> {
  for (let round = 0; ; round++) {
    const verdict = decideLookup('expired', req.primaryKey, req.key, r.hitForPass, r.flight)
    const outcome = verdict === 'hit-for-pass'
      ? (isHead ? { kind: 'pass', hitForPass: true } as const : await r.coalescer.alone(req, n))
      : verdict === 'busy' ? await r.coalescer.wait(req, n, round) : await r.coalescer.lead(req, n)
    if (outcome.kind !== 'retry') return outcome
  }
}

const notes = (): MissNotes => ({ lease: null, coalesced: false, originStatus: 0, originMs: 0 })

async function originCount (metrics: Metrics, reason: string): Promise<number> {
  const metric = await metrics.originRequests.get()
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0
}

describe('coalesce/miss: one driver, outcomes returned', () => {
  it('a leader fetches once; waiters share its stored entry as collapsed, and the waiters are counted', async () => {
    const r = rig()
    const leaderNotes = notes()
    const leader = miss(r, request('h/p'), leaderNotes, false)
    const waiterNotes = [notes(), notes(), notes()]
    const waiters = waiterNotes.map(async (n) => await miss(r, request('h/p'), n, false))
    await r.origin.asked(1)
    r.origin.reply(cacheable)
    const first = await leader
    expect(first).toMatchObject({ kind: 'entry', collapsed: false })
    expect(leaderNotes).toMatchObject({ coalesced: false, originStatus: 200, originMs: 7 })
    for (const w of await Promise.all(waiters)) {
      expect(w).toMatchObject({ kind: 'entry', collapsed: true })
      expect(w.kind === 'entry' && w.entry.body.toString()).toBe('page')
    }
    expect(waiterNotes.every((n) => n.coalesced)).toBe(true)
    expect(r.origin.requests).toHaveLength(1)
    expect((await r.metrics.coalescedWaiters.get()).values[0]?.value).toBe(3)
    expect(r.store.get('h/p')).toMatchObject({ kind: 'entry', key: 'h/p' })
  })

  it('an uncacheable answer releases the waiters before its body is read, and the URL is remembered as hit-for-pass', async () => {
    const r = rig()
    const leader = miss(r, request('h/u'), notes(), false)
    const waiter = miss(r, request('h/u'), notes(), false)
    await r.origin.asked(1)
    const body = r.origin.reply({ status: 200, headers: { 'cache-control': 'no-store' }, body: 'mine' })
    expect(await waiter).toEqual({ kind: 'pass', hitForPass: true })
    const first = await leader
    expect(first).toMatchObject({ kind: 'stream', reason: 'no-store', hitForPass: false })
    expect(body.readableEnded).toBe(false)
    expect(r.hitForPass.has('h/u')).toBe(true)
    // Remembered: the next GET goes alone (no flight to join), a HEAD straight to a pass without a fill.
    const head = await miss(r, request('h/u'), notes(), true)
    expect(head).toEqual({ kind: 'pass', hitForPass: true })
    const alone = miss(r, request('h/u'), notes(), false)
    expect(r.flight.wait('h/u')).toBeUndefined()
    await r.origin.asked(2)
    r.origin.reply({ status: 200, headers: { 'cache-control': 'no-store' }, body: 'mine' })
    expect(await alone).toMatchObject({ kind: 'stream', hitForPass: true })
    expect(await originCount(r.metrics, 'pass')).toBe(1)
  })

  it('a storable answer ends the hit-for-pass memory', async () => {
    const r = rig()
    r.hitForPass.remember('h/back')
    const alone = miss(r, request('h/back'), notes(), false)
    await r.origin.asked(1)
    r.origin.reply(cacheable)
    expect((await alone)).toMatchObject({ kind: 'entry', collapsed: false })
    expect(r.hitForPass.has('h/back')).toBe(false)
  })

  it('an origin 5xx is shared with the waiters as a failure, and does not mark the URL', async () => {
    const r = rig()
    const leader = miss(r, request('h/5'), notes(), false)
    const waiter = miss(r, request('h/5'), notes(), false)
    await r.origin.asked(1)
    r.origin.reply({ status: 503, headers: {}, body: 'down' })
    expect(await leader).toMatchObject({ kind: 'stream', reason: 'error-status' })
    const shared = await waiter
    expect(shared.kind === 'error' && shared.error.code).toBe('CORRAL_ERR_ORIGIN_STATUS')
    expect(r.origin.requests).toHaveLength(1)
    expect(r.hitForPass.has('h/5')).toBe(false)
  })

  it('an origin that cannot be reached fails the leader and every waiter with one error', async () => {
    const r = rig()
    const all = [miss(r, request('h/x'), notes(), false), miss(r, request('h/x'), notes(), false)]
    await r.origin.asked(1)
    r.origin.fail()
    for (const o of await Promise.all(all)) expect(o.kind === 'error' && o.error.code).toBe('CORRAL_ERR_ORIGIN_UNREACHABLE')
    expect(r.origin.requests).toHaveLength(1)
  })

  it('hit-for-pass poisoning: a cookie-bearing leader\'s uncacheable answer sends anonymous waiters behind one new leader, not to the origin each', async () => {
    const r = rig()
    const cookieLeader = miss(r, request('h/spike', { cookie: 'sid=x' }), notes(), false)
    const anonymous = Array.from({ length: 20 }, async () => await miss(r, request('h/spike'), notes(), false))
    const withCookie = miss(r, request('h/spike', { cookie: 'sid=y' }), notes(), false)
    await r.origin.asked(1)
    r.origin.reply({ status: 200, headers: { 'cache-control': 'public, s-maxage=2', 'set-cookie': 'sid=x' }, body: 'yours' })
    expect(await cookieLeader).toMatchObject({ kind: 'stream', reason: 'set-cookie' })
    // A waiter with credentials of its own goes alone; the anonymous ones wait for one anonymous leader.
    expect(await withCookie).toEqual({ kind: 'pass', hitForPass: false })
    expect(r.hitForPass.has('h/spike')).toBe(false)
    await r.origin.asked(2)
    r.origin.reply({ status: 200, headers: { 'cache-control': 'public, s-maxage=2' }, body: 'everyone' })
    const kinds = (await Promise.all(anonymous)).map((o) => o.kind === 'entry' && (o.collapsed ? 'collapsed' : 'own'))
    expect(kinds.filter((k) => k === 'own')).toHaveLength(1)
    expect(kinds.filter((k) => k === 'collapsed')).toHaveLength(19)
    expect(r.origin.requests).toHaveLength(2)
  })

  it('an anonymous leader\'s uncacheable answer is uncacheable for anyone: the URL is remembered', async () => {
    const r = rig()
    const leader = miss(r, request('h/anon'), notes(), false)
    const waiter = miss(r, request('h/anon', { cookie: 'a=1' }), notes(), false)
    await r.origin.asked(1)
    r.origin.reply({ status: 200, headers: { 'cache-control': 'private' }, body: 'p' })
    expect(await leader).toMatchObject({ kind: 'stream', reason: 'private' })
    expect(await waiter).toEqual({ kind: 'pass', hitForPass: true })
    expect(r.hitForPass.has('h/anon')).toBe(true)
  })

  it('a waiter asking for another variant than the leader\'s answer goes alone (bypass)', async () => {
    const r = rig()
    const leader = miss(r, request('h/v', { 'accept-language': 'de' }), notes(), false)
    const same = miss(r, request('h/v', { 'accept-language': 'de' }), notes(), false)
    const other = miss(r, request('h/v', { 'accept-language': 'fr' }), notes(), false)
    await r.origin.asked(1)
    r.origin.reply({ status: 200, headers: { 'cache-control': 'max-age=60', vary: 'accept-language' }, body: 'de' })
    expect((await leader)).toMatchObject({ kind: 'entry', collapsed: false })
    expect((await same)).toMatchObject({ kind: 'entry', collapsed: true })
    expect(await other).toEqual({ kind: 'pass', hitForPass: false })
  })

  it('an expired entry is revalidated with its validators; a 304 comes back as fetched and revalidated', async () => {
    const r = rig()
    const stale: StoredEntry = {
      kind: 'entry',
      key: 'h/r',
      status: 200,
      headers: ['content-type', 'text/plain', 'etag', '"v1"'],
      body: Buffer.from('old'),
      storedAt: T0 - 120_000,
      initialAgeSeconds: 0,
      freshUntil: T0 - 60_000,
      staleWhileRevalidateUntil: T0 - 60_000,
      staleIfErrorUntil: T0 - 60_000,
      mustRevalidate: false,
      etag: '"v1"',
      lastModified: undefined
    }
    const revalidating = miss(r, request('h/r', {}, stale), notes(), false)
    await r.origin.asked(1)
    expect(r.origin.requests[0]?.headers['if-none-match']).toBe('"v1"')
    r.origin.reply({ status: 304, headers: { 'cache-control': 'max-age=30', etag: '"v1"' }, body: '' })
    const outcome = await revalidating
    expect(outcome).toMatchObject({ kind: 'entry', revalidated: true, collapsed: false })
    expect(outcome.kind === 'entry' && outcome.entry.body.toString()).toBe('old')
    expect(outcome.kind === 'entry' && outcome.entry.freshUntil).toBe(T0 + 30_000)
    expect(await originCount(r.metrics, 'expired')).toBe(1)
  })

  it('background refreshes are de-duplicated: one origin request per key however often a stale hit asks', async () => {
    const r = rig()
    r.coalescer.refresh(request('h/s'))
    r.coalescer.refresh(request('h/s'))
    r.coalescer.refresh(request('h/s'))
    // A miss arriving meanwhile joins the refresh's flight.
    const joined = miss(r, request('h/s'), notes(), false)
    await r.origin.asked(1)
    r.origin.reply(cacheable)
    expect((await joined)).toMatchObject({ kind: 'entry', collapsed: true })
    expect(r.origin.requests).toHaveLength(1)
    expect(await originCount(r.metrics, 'refresh')).toBe(1)
  })

  it('a background refresh that gets an uncacheable answer does not switch caching off for the URL', async () => {
    const r = rig()
    r.coalescer.refresh(request('h/sr'))
    await r.origin.asked(1)
    r.origin.reply({ status: 200, headers: { 'cache-control': 'no-store' }, body: 'x' })
    await expect.poll(() => r.flight.wait('h/sr')).toBeUndefined()
    expect(r.hitForPass.has('h/sr')).toBe(false)
  })
})

describe('coalesce/miss over a fleet lease (real memcached)', () => {
  const memcached = inject('memcached')
  const stores: MemcachedStore[] = []
  afterEach(async () => {
    await Promise.all(stores.splice(0).map(async (s) => await s.close()))
  })

  function fleetRig (prefix: string, leaseTtlMs = 2000): Rig {
    const store = new MemcachedStore({ servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, maxItemBytes: 1024 * 1024 })
    stores.push(store)
    const fleet = new FleetLease({ leases: store, shared: store, leaseTtlMs, waitMs: leaseTtlMs + 3000, now: () => Date.now() })
    return rig(store, fleet)
  }

  it.runIf(memcached !== null)('a follower in another process serves the leader\'s fill: one origin request for two processes', async () => {
    const prefix = `miss${randomBytes(4).toString('hex')}:`
    const a = fleetRig(prefix)
    const b = fleetRig(prefix)
    const leaderNotes = notes()
    const leading = miss(a, request('h/f'), leaderNotes, false)
    await a.origin.asked(1)
    const followerNotes = notes()
    const following = miss(b, request('h/f'), followerNotes, false)
    await expect.poll(() => followerNotes.lease).toBe('held')
    a.origin.reply(cacheable)
    expect(await leading).toMatchObject({ kind: 'entry', collapsed: false })
    const got: MissOutcome = await following
    expect(got.kind === 'entry' && got.entry.body.toString()).toBe('page')
    expect(leaderNotes.lease).toBe('acquired')
    expect(followerNotes.lease).toBe('filled')
    expect(b.origin.requests).toHaveLength(0)
  })

  it.runIf(memcached !== null)('a lease whose holder died is taken over once it expires, and the follower fetches itself', async () => {
    const prefix = `miss${randomBytes(4).toString('hex')}:`
    const b = fleetRig(prefix, 1000)
    // A holder that dies: another process's store takes the lease and closes (its renewals stop), never releasing it.
    const dead = new MemcachedStore({ servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, maxItemBytes: 1024 * 1024 })
    expect(await dead.tryLease('h/dead', 1000)).toBe('acquired')
    await dead.close()
    const n = notes()
    const following = miss(b, request('h/dead'), n, false)
    await b.origin.asked(1)
    expect(n.lease).toBe('takeover')
    b.origin.reply(cacheable)
    expect((await following)).toMatchObject({ kind: 'entry', collapsed: false })
  })
})
