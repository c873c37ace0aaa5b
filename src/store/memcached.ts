import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import memjs from 'memjs'
import { systemClock, type Clock } from '../core/clock.js'
import { CorralError } from '../core/errors.js'
import { decodeRecord, encodeRecord } from './codec.js'
import { expirySeconds, leaseExpirySeconds } from './expiry.js'
import { KeyMemo, leaseKey } from './key-memo.js'
import { LeaseRenewals } from './lease-renewal.js'
import { isLoopStall, NodeHealth, type NodeState, type OperationOutcome } from './node-health.js'
import { NodeRing, splitHostPort } from './ring.js'
import { UNREACHABLE, type SharedTier, type Unreachable } from './shared-tier.js'
import type { CacheRecord, LeaseStore } from './types.js'
import { batchWrites } from './write-batching.js'

export { expirySeconds, leaseExpirySeconds } from './expiry.js'
export { leaseKey, memcachedKey } from './key-memo.js'

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
  /** Every failed or timed-out operation (a metric; an outage is reported once by onNodeDown). */
  onError?: ((server: string, op: string, err: unknown) => void) | undefined
  onSkip?: ((reason: SkipReason) => void) | undefined
  /** A node that was up is marked down (once per outage, whatever the number of failed operations). */
  onNodeDown?: ((server: string, reason: string) => void) | undefined
  /** A node that was down answered again, after `downMs`. */
  onNodeUp?: ((server: string, downMs: number) => void) | undefined
  /**
   * Also probe a down node on a timer, every retryDownMs, not only when an operation comes along: while L1 carries an
   * outage (tiered.ts) few requests ask memcached, and the recovery, with L1's return to its short cap, would wait
   * for one. Off by default so tests that move `clock` decide alone which operation is the probe.
   */
  probeDownNodes?: boolean | undefined
  /** Only for tests: decides when a down node is probed again. */
  clock?: Clock | undefined
}

/** A node's state for /flags and `corral_memcached_up`. */
export interface MemcachedNodeState extends NodeState {
  readonly server: string
}

/** sha256 in base64url is 43 characters; with `lease:` the longest key is prefix + 49. */
const MAX_PREFIX_BYTES = 250 - 49
/** Item header (~56 bytes with CAS) and the trailing CRLF: an item is key + value + this in a slab chunk. */
const ITEM_OVERHEAD_BYTES = 64

interface Node {
  readonly address: string
  readonly health: NodeHealth
  /**
   * Replaced whenever the node is marked down: memjs keeps its response buffer across connections, so the partial
   * bytes of a reset mid-response (or memcached's text "ERROR Too many open connections") would be read in front of
   * every later answer on every new connection, and the node would never come back.
   */
  client: memjs.Client
  /** Bumped with each new client: what the replaced client's operations report no longer says anything about the node. */
  generation: number
}

const FAILED: unique symbol = Symbol('failed')
type Failed = typeof FAILED
type Done<T> = (err: Error | null, value: T) => void

const silentLogger = { log () {} }

/**
 * L2: memcached through memjs, one client per node and our own ring, so failure handling is ours and not
 * memjs's (its retries would multiply a slow node's cost; its failover would move keys behind the ring's back).
 * This file composes four ideas kept apart: node health (node-health.ts), lease renewal (lease-renewal.ts), write
 * batching (write-batching.ts) and the key memo (key-memo.ts).
 *
 * Nothing thrown or rejected ever leaves this store. A failed operation is a miss (get) or a no-op (set, delete); its
 * node is judged by NodeHealth, and a node marked down gets a new memjs client (see Node.client) and is skipped, with
 * nothing sent, until its probe answers.
 *
 * Lease semantics differ from the LeaseStore doc comment in types.ts on purpose: `tryLease` says whether the lease
 * could be decided at all, and `acquire` answers true when memcached is unreachable. A fleet whose memcached is
 * down must fall back to in-process coalescing (every process fetches once) rather than have every request wait
 * for a leader that can never be elected.
 */
export class MemcachedStore implements SharedTier, LeaseStore {
  readonly name = 'memcached'
  readonly #nodes = new Map<string, Node>()
  readonly #ring: NodeRing
  readonly #timeoutMs: number
  readonly #prefix: string
  readonly #maxItemBytes: number
  readonly #options: MemcachedStoreOptions
  readonly #clock: Clock
  readonly #leases: LeaseRenewals
  readonly #keys: KeyMemo
  readonly #clientSeconds: number
  readonly #nodeBack: Array<() => void> = []
  readonly #probeKey: string
  #closed = false

  constructor (options: MemcachedStoreOptions) {
    assertOptions(options)
    this.#options = options
    this.#ring = new NodeRing(options.servers)
    this.#timeoutMs = options.timeoutMs
    this.#prefix = options.prefix
    this.#maxItemBytes = options.maxItemBytes
    this.#clock = options.clock ?? systemClock
    this.#keys = new KeyMemo(options.prefix)
    this.#leases = new LeaseRenewals({
      holder: async (itemKey) => {
        const node = this.#pick(itemKey)
        if (node === undefined) return undefined
        const holder = await this.#leaseHolder(node, itemKey)
        return holder === FAILED ? undefined : holder
      },
      touch: async (itemKey, ttlMs) => {
        const node = this.#pick(itemKey)
        if (node === undefined) return
        await this.#call<boolean | null>(node, 'touch', done => {
          node.client.touch(itemKey, leaseExpirySeconds(ttlMs), (err, ok) => done(err, ok))
        })
      }
    })
    // Our deadline bounds each request; memjs's own, longer one tears down a socket that is truly stuck (its
    // timeout errors every pending operation on the connection, so it must not fire on a merely late answer).
    this.#clientSeconds = Math.max(options.timeoutMs * 10, 1000) / 1000
    for (const address of this.#ring.nodes) {
      this.#nodes.set(address, { address, health: new NodeHealth(options.retryDownMs), client: this.#newClient(address), generation: 0 })
    }
    // Connect now, not inside the first burst of requests: a connect in a cold burst is the slowest operation.
    const probeKey = `${this.#prefix}connect`
    this.#probeKey = probeKey
    this.ready = Promise.all([...this.#nodes.values()].map(async (node) => {
      await this.#call<unknown>(node, 'connect', (done) => node.client.get(probeKey, (err, value) => done(err, value)))
    })).then(() => {})
  }

  /** Resolves once every node has been tried (connected, refused or timed out); never rejects. */
  readonly ready: Promise<void>

  async get (key: string): Promise<CacheRecord | undefined> {
    const value = await this.#read(key)
    if (value === FAILED || value === null) return undefined
    return decodeRecord(value, key, this.#keys.metaFor(key))
  }

  /** `get` that tells a miss from a node it could not ask (down, failed, timed out). */
  async lookup (key: string): Promise<CacheRecord | undefined | Unreachable> {
    const value = await this.#read(key)
    if (value === FAILED) return UNREACHABLE
    if (value === null) return undefined
    return decodeRecord(value, key, this.#keys.metaFor(key))
  }

  isReachable (key: string): boolean {
    if (this.#closed) return false
    return !(this.#nodes.get(this.#ring.nodeFor(this.#keys.itemKey(key))) as Node).health.isDown
  }

  onNodeBack (listener: () => void): void {
    this.#nodeBack.push(listener)
  }

  async set (key: string, record: CacheRecord, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) return
    const itemKey = this.#keys.itemKey(key)
    const value = encodeRecord(record)
    if (value.length > this.#maxItemBytes - ITEM_OVERHEAD_BYTES - itemKey.length) {
      this.#options.onSkip?.('too-large')
      return
    }
    const node = this.#pick(itemKey)
    if (node === undefined) return
    await this.#call<boolean | null>(node, 'set', done => {
      node.client.set(itemKey, value, { expires: expirySeconds(ttlMs) }, (err, ok) => done(err, ok))
    })
  }

  async delete (key: string): Promise<void> {
    const itemKey = this.#keys.itemKey(key)
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
    this.#leases.hold(itemKey, token, ttlMs)
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
    const token = this.#leases.drop(itemKey)
    if (token === undefined) return
    const node = this.#pick(itemKey)
    if (node === undefined) return
    if (await this.#leaseHolder(node, itemKey) !== token) return
    await this.#call<boolean | null>(node, 'delete', done => {
      node.client.delete(itemKey, (err, ok) => done(err, ok))
    })
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#leases.close()
    for (const node of this.#nodes.values()) node.client.close()
  }

  /** How many keys the two memos hold (for tests). */
  get memoisedKeys (): { itemKeys: number, meta: number } {
    return this.#keys.sizes
  }

  /** Every node's state, in the configured order (read at scrape and by /flags, never per request). */
  nodeStates (): MemcachedNodeState[] {
    return [...this.#nodes.values()].map(node => ({ server: node.address, ...node.health.state() }))
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

  /** The item under `key`: FAILED when its node is skipped or did not answer. Not async: no extra microtask per hit. */
  #read (key: string): Promise<Buffer | null | Failed> {
    const itemKey = this.#keys.itemKey(key)
    const node = this.#pick(itemKey)
    if (node === undefined) return Promise.resolve(FAILED)
    return this.#call<Buffer | null>(node, 'get', done => {
      node.client.get(itemKey, (err, value) => done(err, value))
    })
  }

  /** The token a lease item holds now: null when there is none, FAILED when memcached did not answer. */
  async #leaseHolder (node: Node, itemKey: string): Promise<string | null | Failed> {
    const current = await this.#call<Buffer | null>(node, 'get', done => {
      node.client.get(itemKey, (err, value) => done(err, value))
    })
    return current === FAILED || current === null ? current : current.toString()
  }

  /** The node that owns `itemKey`, or undefined while it is marked down (or the store is closed). */
  #pick (itemKey: string): Node | undefined {
    if (this.#closed) return undefined
    const node = this.#nodes.get(this.#ring.nodeFor(itemKey)) as Node
    if (node.health.admit(this.#clock.now()) !== 'skip') return node
    this.#options.onSkip?.('node-down')
    return undefined
  }

  /** Node state after one operation of the current client settled; a node marked down gets a new client. */
  #judge (node: Node, outcome: OperationOutcome, start: ReturnType<NodeHealth['start']>, err: unknown): void {
    const now = this.#clock.now()
    const downSince = node.health.state().downSince
    const settled = node.health.settle(outcome, start, now)
    if (settled.markedDown) {
      node.generation++
      node.client.close()
      if (!this.#closed) node.client = this.#newClient(node.address)
      // One timer per mark: a failed probe marks the node again and so schedules the next one.
      if (this.#options.probeDownNodes === true && !this.#closed) {
        setTimeout(() => { this.#probe(node) }, this.#options.retryDownMs).unref()
      }
    }
    if (settled.transition === 'down') {
      this.#options.onNodeDown?.(node.address, (err as Error | undefined)?.message ?? String(err))
    } else if (settled.transition === 'up') {
      this.#options.onNodeUp?.(node.address, now - (downSince ?? now))
      for (const listener of this.#nodeBack) listener()
    }
  }

  /** Probes a down node whose time is up, unless an operation already is (or it is up again). */
  #probe (node: Node): void {
    if (this.#closed) return
    if (node.health.admit(this.#clock.now()) !== 'probe') {
      // A timer can fire a little before the clock reaches the node's deadline (timers and the wall clock drift
      // apart): look again shortly, or the chain of probes would end and, with no operation asking, the node would
      // never be seen back. An operation already probing decides the next step itself.
      if (node.health.isDown && !node.health.isProbing) setTimeout(() => { this.#probe(node) }, Math.min(50, this.#options.retryDownMs)).unref()
      return
    }
    const probeKey = this.#probeKey
    // #call never rejects; the catch is for the linter's sake and a future change.
    this.#call<unknown>(node, 'probe', (done) => node.client.get(probeKey, (err, value) => done(err, value))).catch(() => {})
  }

  /** Runs one memjs call with our deadline; resolves FAILED (never rejects) on an error or a timeout. */
  #call<T> (node: Node, op: string, send: (done: Done<T>) => void): Promise<T | Failed> {
    return new Promise(resolve => {
      let settled = false
      const generation = node.generation
      const start = node.health.start()
      const finish = (err: unknown, value: T | Failed): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        // An operation of a client replaced since it started: the node was already judged (and marked down).
        if (node.generation === generation) this.#judge(node, outcomeOf(err), start, err)
        if (err === null) {
          resolve(value)
          return
        }
        node.health.countError()
        this.#options.onError?.(node.address, op, err)
        resolve(FAILED)
      }
      const sentAt = performance.now()
      const timer = setTimeout(() => {
        // A timer late on a stalled event loop is no evidence against the node (node-health.ts isLoopStall).
        const stalled = isLoopStall(performance.now() - sentAt - this.#timeoutMs, this.#timeoutMs)
        // After an event-loop stall, expired timers run before the poll phase reads the answers already waiting on
        // the socket: every operation in flight would time out in the same pass. Decide after that poll phase.
        setImmediate(() => {
          finish(Object.assign(new CorralError('CORRAL_ERR_MEMCACHED_TIMEOUT', `memcached ${op} on ${node.address} took over ${this.#timeoutMs} ms`, 503), { stalled }), FAILED)
        })
      }, this.#timeoutMs)
      timer.unref()
      try {
        send((err, value) => finish(err, value))
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
function outcomeOf (err: unknown): OperationOutcome {
  if (err === null || (err instanceof Error && err.message.startsWith('MemJS '))) return 'answered'
  const { code, stalled } = err as { code?: string, stalled?: boolean }
  if (code !== 'CORRAL_ERR_MEMCACHED_TIMEOUT') return 'failed'
  return stalled === true ? 'stalled' : 'timed-out'
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
