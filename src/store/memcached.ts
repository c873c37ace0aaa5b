import { createHash, randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import memjs from 'memjs'
import { systemClock, type Clock } from '../core/clock.js'
import { CorralError } from '../core/errors.js'
import { decodeRecord, encodeRecord, type MetaMemo } from './codec.js'
import { NodeRing, splitHostPort } from './ring.js'
import type { CacheRecord, CacheStore, LeaseStore } from './types.js'

export type SkipReason = 'too-large' | 'node-down'
export type LeaseResult = 'acquired' | 'held' | 'unavailable'

export interface MemcachedStoreOptions {
  /** `host:port` of every node; the ring decides which one owns a key. */
  servers: readonly string[]
  /** Upper bound on any single operation, ms; past it the operation is a miss (get) or a no-op (set, delete). */
  timeoutMs: number
  /** How long a node that failed or timed out is skipped before one operation probes it again, ms. */
  retryDownMs: number
  /** Namespace in front of every memcached key (fleets sharing a cluster, format changes). */
  prefix: string
  /** The servers' item size limit (memcached `-I`, default 1 MiB); larger items are not sent. */
  maxItemBytes: number
  onError?: ((server: string, op: string, err: unknown) => void) | undefined
  onSkip?: ((reason: SkipReason) => void) | undefined
  /** Only for tests: decides when a down node is probed again. */
  clock?: Clock | undefined
}

/** memcached reads an expiry above 30 days as a Unix timestamp (protocol.txt, "Expiration times"). */
const MAX_RELATIVE_EXPIRY_SECONDS = 60 * 60 * 24 * 30
/** sha256 in base64url is 43 characters; with `lease:` the longest key is prefix + 49. */
const MAX_PREFIX_BYTES = 250 - 49
/** Item header (~56 bytes with CAS) and the trailing CRLF: an item is key + value + this in a slab chunk. */
const ITEM_OVERHEAD_BYTES = 64

/** Seconds to hand memcached for a lifetime in ms: rounded up (0 would mean "never expire"), clamped below 30 days. */
export function expirySeconds (ttlMs: number): number {
  return Math.min(Math.max(1, Math.ceil(ttlMs / 1000)), MAX_RELATIVE_EXPIRY_SECONDS)
}

/**
 * Seconds to hand memcached for a lease that must last at least `ttlMs`. memcached's clock ticks once a second and
 * an item set with expiry n dies at the n-th tick, which may come up to a second early: with `expirySeconds` a
 * 1000 ms lease lived 150-820 ms (measured), shorter than the fetch it guards, so a second process took the fetch
 * over while the leader was still on it. One more second makes the lease last at least ttlMs (at most ttlMs rounded
 * up to whole seconds, plus one): a dead leader is taken over up to a second later, a live one is never doubled.
 */
export function leaseExpirySeconds (ttlMs: number): number {
  return Math.min(expirySeconds(ttlMs) + 1, MAX_RELATIVE_EXPIRY_SECONDS)
}

/** `prefix + base64url(sha256(fullKey))`: ≤ 250 bytes and free of spaces whatever the URL; the full key is checked on read. */
export function memcachedKey (prefix: string, fullKey: string): string {
  return prefix + createHash('sha256').update(fullKey).digest('base64url')
}

export function leaseKey (prefix: string, fullKey: string): string {
  return memcachedKey(prefix + 'lease:', fullKey)
}

interface Node {
  readonly address: string
  /**
   * Replaced whenever the node is marked down: memjs keeps its response buffer across connections, so the partial
   * bytes of a reset mid-response (or memcached's text "ERROR Too many open connections") would be read in front of
   * every later answer on every new connection, and the node would never come back.
   */
  client: memjs.Client
  /** Bumped with each new client: what the replaced client's operations report no longer says anything about the node. */
  generation: number
  /** Epoch ms before which the node is skipped (0 = up). */
  downUntil: number
  /** One operation is testing a node whose down time ran out; the others keep skipping until it answers. */
  probing: boolean
  /** Timeouts in a row: one late answer is usually our own event loop stalled, not the node. */
  timeouts: number
  /**
   * Answers received so far (replies and server errors alike). An operation that times out although the node answered
   * something after it started was late because of us (a stalled event loop, a long queue), so it is not counted.
   */
  answers: number
}

/**
 * A node is marked down after this many timeouts in a row (a refused or reset connection marks it down at once).
 * Measured: a burst of 250 concurrent requests on a just-started process stalls the event loop past 50 ms, and a
 * single late timer marked a healthy node down, which turned fleet leases off for retryDownMs.
 */
const TIMEOUTS_TO_MARK_DOWN = 3

const FAILED: unique symbol = Symbol('failed')
type Failed = typeof FAILED
type Done<T> = (err: Error | null, value: T) => void

const silentLogger = { log () {} }

/**
 * Keys longer than this are hashed on every operation instead of memoised: URLs can be ~16 KiB, and the two memos of
 * 10,000 keys each would otherwise hold ~145 MiB outside every memory limit. Short keys, the common case, keep the memo.
 */
const MAX_MEMO_KEY_CHARS = 512

/**
 * A lease is renewed (every leaseTtlMs/2, while its holder fills) for at most this long: a holder that never
 * releases must not keep a key away from the whole fleet for good.
 */
const MAX_LEASE_RENEW_MS = 10 * 60_000

interface HeldLease {
  readonly token: string
  /** Renews the lease until release. */
  readonly timer: ReturnType<typeof setInterval>
}

interface MemjsServer {
  write: (blob: Buffer) => void
  _socket?: { cork (): void, uncork (): void }
}

/**
 * memjs writes every request to its socket at once: one syscall per operation, which was most of the cost of a
 * memcached hit (--cpu-prof: 1.7 s of 5.5 s in writeBuffer at 64 connections). Operations issued in the same turn of
 * the event loop are queued and written together, corked, after the poll phase (setImmediate), so a burst of
 * requests costs one writev. This reaches into memjs's Server (write, _socket); if those ever change shape it is
 * left alone and memjs writes as before.
 */
function batchWrites (client: memjs.Client): void {
  for (const server of (client as unknown as { servers?: MemjsServer[] }).servers ?? []) {
    if (typeof server.write !== 'function') continue
    const write = server.write.bind(server)
    let queued: Buffer[] = []
    const flush = (): void => {
      const blobs = queued
      queued = []
      const socket = server._socket
      socket?.cork()
      for (const blob of blobs) write(blob)
      socket?.uncork()
    }
    server.write = (blob: Buffer): void => {
      queued.push(blob)
      if (queued.length === 1) setImmediate(flush)
    }
  }
}

/**
 * L2: memcached through memjs, one client per node and our own ring, so failure handling is ours and not
 * memjs's (its retries would multiply a slow node's cost; its failover would move keys behind the ring's back).
 *
 * Nothing thrown or rejected ever leaves this store. An operation that fails (refused, reset) marks its node down
 * for `retryDownMs`, and so do TIMEOUTS_TO_MARK_DOWN operations in a row that outlive `timeoutMs` (each of those is a
 * miss after `timeoutMs`; one the node answered something after does not count), and so does a failed probe. A node
 * marked down gets a new memjs client (see Node.client). Meanwhile get is a miss, set and delete do nothing, and
 * nothing is sent. When the time is up the next operation on that node is the probe (concurrent ones keep skipping
 * until it answers), so a dead node costs one failed operation per `retryDownMs`, not one per request.
 *
 * A lease this store acquired is renewed every ttlMs/2 until it is released (see #hold).
 *
 * Lease semantics differ from the LeaseStore doc comment in types.ts on purpose: `tryLease` says whether the lease
 * could be decided at all, and `acquire` answers true when memcached is unreachable. A fleet whose memcached is
 * down must fall back to in-process coalescing (every process fetches once) rather than have every request wait
 * for a leader that can never be elected.
 */
export class MemcachedStore implements CacheStore, LeaseStore {
  readonly name = 'memcached'
  readonly #nodes = new Map<string, Node>()
  readonly #ring: NodeRing
  readonly #timeoutMs: number
  readonly #retryDownMs: number
  readonly #prefix: string
  readonly #maxItemBytes: number
  readonly #onError: ((server: string, op: string, err: unknown) => void) | undefined
  readonly #onSkip: ((reason: SkipReason) => void) | undefined
  readonly #clock: Clock
  /** Lease key → the token we wrote, so a release never deletes (and a renewal never extends) a lease someone else took. */
  readonly #leases = new Map<string, HeldLease>()
  readonly #clientSeconds: number
  readonly #itemKeys = new LRUCache<string, string>({ max: 10_000 })
  readonly #metaMemo: MetaMemo = new LRUCache({ max: 10_000 })
  #closed = false

  constructor (options: MemcachedStoreOptions) {
    assertOptions(options)
    this.#ring = new NodeRing(options.servers)
    this.#timeoutMs = options.timeoutMs
    this.#retryDownMs = options.retryDownMs
    this.#prefix = options.prefix
    this.#maxItemBytes = options.maxItemBytes
    this.#onError = options.onError
    this.#onSkip = options.onSkip
    this.#clock = options.clock ?? systemClock
    // Our deadline bounds each request; memjs's own, longer one tears down a socket that is truly stuck (its
    // timeout errors every pending operation on the connection, so it must not fire on a merely late answer).
    this.#clientSeconds = Math.max(options.timeoutMs * 10, 1000) / 1000
    for (const address of this.#ring.nodes) {
      const client = this.#newClient(address)
      this.#nodes.set(address, { address, client, generation: 0, downUntil: 0, probing: false, timeouts: 0, answers: 0 })
    }
    // Connect now, not inside the first burst of requests: a connect in a cold burst is the slowest operation.
    const probeKey = `${this.#prefix}connect`
    this.ready = Promise.all([...this.#nodes.values()].map(async (node) => {
      await this.#call<unknown>(node, 'connect', (done) => node.client.get(probeKey, (err, value) => done(err, value)))
    })).then(() => {})
  }

  /** Resolves once every node has been tried (connected, refused or timed out); never rejects. */
  readonly ready: Promise<void>

  async get (key: string): Promise<CacheRecord | undefined> {
    const itemKey = this.#itemKey(key)
    const node = this.#pick(itemKey)
    if (node === undefined) return undefined
    const value = await this.#call<Buffer | null>(node, 'get', done => {
      node.client.get(itemKey, (err, value) => done(err, value))
    })
    if (value === FAILED || value === null) return undefined
    return decodeRecord(value, key, key.length > MAX_MEMO_KEY_CHARS ? undefined : this.#metaMemo)
  }

  async set (key: string, record: CacheRecord, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) return
    const itemKey = this.#itemKey(key)
    const value = encodeRecord(record)
    if (value.length > this.#maxItemBytes - ITEM_OVERHEAD_BYTES - itemKey.length) {
      this.#onSkip?.('too-large')
      return
    }
    const node = this.#pick(itemKey)
    if (node === undefined) return
    await this.#call<boolean | null>(node, 'set', done => {
      node.client.set(itemKey, value, { expires: expirySeconds(ttlMs) }, (err, ok) => done(err, ok))
    })
  }

  async delete (key: string): Promise<void> {
    const itemKey = this.#itemKey(key)
    const node = this.#pick(itemKey)
    if (node === undefined) return
    await this.#call<boolean | null>(node, 'delete', done => {
      node.client.delete(itemKey, (err, ok) => done(err, ok))
    })
  }

  /**
   * `add` of the lease key: 'acquired' when this caller now holds it, 'held' when another does, 'unavailable'
   * when memcached could not say (node down, error, timeout): the caller then coalesces in-process only.
   */
  async tryLease (key: string, ttlMs: number): Promise<LeaseResult> {
    const itemKey = leaseKey(this.#prefix, key)
    const node = this.#pick(itemKey)
    if (node === undefined) return 'unavailable'
    const token = randomBytes(12).toString('base64url')
    const added = await this.#call<boolean | null>(node, 'add', done => {
      node.client.add(itemKey, token, { expires: leaseExpirySeconds(ttlMs) }, (err, ok) => done(err, ok))
    })
    if (added === FAILED) return 'unavailable'
    if (added !== true) return 'held'
    this.#hold(itemKey, token, ttlMs)
    return 'acquired'
  }

  /** true for 'acquired' and for 'unavailable' (fail open, see the class comment); false only when another holds it. */
  async acquire (key: string, ttlMs: number): Promise<boolean> {
    return (await this.tryLease(key, ttlMs)) !== 'held'
  }

  /**
   * Deletes the lease if it is still the one this store wrote. The read and the delete are two steps (memjs has
   * no delete-with-CAS), which leaves a window of one round trip instead of the lease's whole lifetime.
   */
  async release (key: string): Promise<void> {
    const itemKey = leaseKey(this.#prefix, key)
    const held = this.#leases.get(itemKey)
    if (held === undefined) return
    clearInterval(held.timer)
    this.#leases.delete(itemKey)
    const token = held.token
    const node = this.#pick(itemKey)
    if (node === undefined) return
    if (await this.#leaseHolder(node, itemKey) !== token) return
    await this.#call<boolean | null>(node, 'delete', done => {
      node.client.delete(itemKey, (err, ok) => done(err, ok))
    })
  }

  async close (): Promise<void> {
    this.#closed = true
    for (const held of this.#leases.values()) clearInterval(held.timer)
    this.#leases.clear()
    for (const node of this.#nodes.values()) node.client.close()
  }

  /** How many keys the two memos hold (for tests). */
  get memoisedKeys (): { itemKeys: number, meta: number } {
    return { itemKeys: this.#itemKeys.size, meta: this.#metaMemo.size }
  }

  #newClient (address: string): memjs.Client {
    const options = {
      retries: 0,
      failover: false,
      timeout: this.#clientSeconds,
      conntimeout: this.#clientSeconds,
      keepAlive: true,
      logger: silentLogger
    }
    // Built from the ring's own parse, not memjs.Client.create's, which splits `[::1]:11211` on every colon.
    const { host, port } = splitHostPort(address) as { host: string, port: number }
    const client = new memjs.Client([new memjs.Server(host, port, undefined, undefined, options)], options)
    batchWrites(client)
    return client
  }

  /**
   * The lease is ours: renew it every ttlMs/2 until release, so a fill that outlasts leaseTtlMs (queue wait, retries,
   * a slow body) is not taken over by a follower while it runs. Each renewal checks the token first (get, then
   * touch: memjs has no touch-with-CAS, so the window is one round trip) and stops once the lease is someone else's.
   */
  #hold (itemKey: string, token: string, ttlMs: number): void {
    const previous = this.#leases.get(itemKey)
    if (previous !== undefined) clearInterval(previous.timer)
    const everyMs = Math.max(1, Math.floor(ttlMs / 2))
    let left = Math.ceil(MAX_LEASE_RENEW_MS / everyMs)
    let renewing = false
    const timer = setInterval(() => {
      if (this.#leases.get(itemKey)?.token !== token || --left < 0) {
        clearInterval(timer)
        return
      }
      if (renewing) return
      renewing = true
      // #renew never rejects (#call resolves FAILED); the catch only keeps the interval going if that ever changes.
      this.#renew(itemKey, token, ttlMs).catch(() => {}).finally(() => { renewing = false })
    }, everyMs)
    timer.unref()
    this.#leases.set(itemKey, { token, timer })
  }

  async #renew (itemKey: string, token: string, ttlMs: number): Promise<void> {
    const node = this.#pick(itemKey)
    if (node === undefined) return
    const holder = await this.#leaseHolder(node, itemKey)
    // Unknown (error, timeout): try again on the next tick, the lease still has half its time.
    if (holder === FAILED) return
    const held = this.#leases.get(itemKey)
    if (held?.token !== token) return
    if (holder !== token) {
      // Expired or taken over: no longer ours, and release must not delete the new holder's lease.
      clearInterval(held.timer)
      this.#leases.delete(itemKey)
      return
    }
    await this.#call<boolean | null>(node, 'touch', done => {
      node.client.touch(itemKey, leaseExpirySeconds(ttlMs), (err, ok) => done(err, ok))
    })
  }

  /** The token a lease item holds now: null when there is none, FAILED when memcached did not answer. */
  async #leaseHolder (node: Node, itemKey: string): Promise<string | null | Failed> {
    const current = await this.#call<Buffer | null>(node, 'get', done => {
      node.client.get(itemKey, (err, value) => done(err, value))
    })
    return current === FAILED || current === null ? current : current.toString()
  }

  /** Marks the node down and gives it a new memjs client, whose buffer holds no bytes of the old connection. */
  #markDown (node: Node): void {
    node.timeouts = 0
    node.probing = false
    node.downUntil = this.#clock.now() + this.#retryDownMs
    node.generation++
    node.client.close()
    if (!this.#closed) node.client = this.#newClient(node.address)
  }

  /** Node state after one operation of the current client settled. `probe`: the node was down when it started. */
  #judge (node: Node, err: unknown, probe: boolean, answersBefore: number): void {
    node.probing = false
    if (err === null || isServerReply(err)) {
      node.answers++
      node.timeouts = 0
      node.downUntil = 0
      return
    }
    const timedOut = (err as { code?: string }).code === 'CORRAL_ERR_MEMCACHED_TIMEOUT'
    // A probe that fails in any way keeps the node down; a refused or reset connection marks it down at once.
    if (timedOut && !probe) {
      // The node answered something after this operation started: it is alive, the delay was ours.
      if (node.answers !== answersBefore) return
      if (++node.timeouts < TIMEOUTS_TO_MARK_DOWN) return
    }
    this.#markDown(node)
  }

  /** The hashed memcached key, memoised: a SHA-256 per operation cost about 3 µs of a memcached hit (--cpu-prof). */
  #itemKey (key: string): string {
    if (key.length > MAX_MEMO_KEY_CHARS) return memcachedKey(this.#prefix, key)
    let itemKey = this.#itemKeys.get(key)
    if (itemKey === undefined) {
      itemKey = memcachedKey(this.#prefix, key)
      this.#itemKeys.set(key, itemKey)
    }
    return itemKey
  }

  /** The node that owns `itemKey`, or undefined while it is marked down (or the store is closed). */
  #pick (itemKey: string): Node | undefined {
    if (this.#closed) return undefined
    const node = this.#nodes.get(this.#ring.nodeFor(itemKey)) as Node
    if (node.downUntil === 0) return node
    if (node.probing || this.#clock.now() < node.downUntil) {
      this.#onSkip?.('node-down')
      return undefined
    }
    node.probing = true
    return node
  }

  /** Runs one memjs call with our deadline; resolves FAILED (never rejects) on an error or a timeout. */
  #call<T> (node: Node, op: string, start: (done: Done<T>) => void): Promise<T | Failed> {
    return new Promise(resolve => {
      let settled = false
      const generation = node.generation
      const probe = node.downUntil !== 0
      const answersBefore = node.answers
      const finish = (err: unknown, value: T | Failed): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        // An operation of a client replaced since it started: the node was already judged (and marked down).
        if (node.generation === generation) this.#judge(node, err, probe, answersBefore)
        if (err === null) {
          resolve(value)
          return
        }
        this.#onError?.(node.address, op, err)
        resolve(FAILED)
      }
      const timer = setTimeout(() => {
        // After an event-loop stall, expired timers run before the poll phase reads the answers already waiting on
        // the socket: every operation in flight would time out in the same pass. Decide after that poll phase.
        setImmediate(() => {
          finish(new CorralError('CORRAL_ERR_MEMCACHED_TIMEOUT', `memcached ${op} on ${node.address} took over ${this.#timeoutMs} ms`, 503), FAILED)
        })
      }, this.#timeoutMs)
      timer.unref()
      try {
        start((err, value) => finish(err, value))
      } catch (err) {
        finish(err ?? new Error('memjs threw'), FAILED)
      }
    })
  }
}

/**
 * memjs words a non-success status from the server ("Value too large", "Out of memory") as `MemJS <OP>: …`. The
 * node answered, so it is not down; transport errors (refused, reset, timed out) carry other messages.
 */
function isServerReply (err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('MemJS ')
}

function assertOptions (options: MemcachedStoreOptions): void {
  const { timeoutMs, retryDownMs, prefix, maxItemBytes } = options
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError(`expected timeoutMs to be a positive number, got ${timeoutMs}`)
  if (!Number.isFinite(retryDownMs) || retryDownMs < 0) throw new TypeError(`expected retryDownMs to be a number ≥ 0, got ${retryDownMs}`)
  if (!Number.isFinite(maxItemBytes) || maxItemBytes < 1024) throw new TypeError(`expected maxItemBytes to be a number ≥ 1024 (memcached's own floor for -I), got ${maxItemBytes}`)
  if (typeof prefix !== 'string' || Buffer.byteLength(prefix) > MAX_PREFIX_BYTES || /[^\x21-\x7e]/.test(prefix)) {
    throw new TypeError(`expected prefix to be at most ${MAX_PREFIX_BYTES} printable ASCII characters without spaces, got ${JSON.stringify(prefix)}`)
  }
}
