import type { Clock } from '../core/clock.js'
import { decodeRecord, encodeRecord } from './codec.js'
import { expirySeconds } from './expiry.js'
import { KeyMemo } from './key-memo.js'
import { MemcachedLeases, type LeaseResult } from './memcached-leases.js'
import { FAILED, MemcachedNodes, type Failed, type MemcachedNodeState, type SkipReason } from './memcached-nodes.js'
import { UNREACHABLE, type SharedTier, type Unreachable } from './shared-tier.js'
import type { CacheRecord, LeaseStore } from './types.js'

export { expirySeconds, leaseExpirySeconds } from './expiry.js'
export { leaseKey, memcachedKey } from './key-memo.js'

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

/** sha256 in base64url is 43 characters; with `lease:` the longest key is prefix + 49. */
const MAX_PREFIX_BYTES = 250 - 49
/** Item header (~56 bytes with CAS) and the trailing CRLF: an item is key + value + this in a slab chunk. */
const ITEM_OVERHEAD_BYTES = 64

/**
 * L2: memcached through memjs, one client per node and our own ring, so failure handling is ours and not
 * memjs's (its retries would multiply a slow node's cost; its failover would move keys behind the ring's back).
 * This file is the store; its parts are kept apart: the nodes, their clients and health (memcached-nodes.ts, over
 * node-health.ts and write-batching.ts), the leases (memcached-leases.ts, over lease-renewal.ts) and the key memo
 * (key-memo.ts).
 *
 * Nothing thrown or rejected ever leaves this store. A failed operation is a miss (get) or a no-op (set, delete); its
 * node is judged by NodeHealth, and a node marked down gets a new memjs client (see MemcachedNode.client) and is
 * skipped, with nothing sent, until its probe answers.
 *
 * Leases fail open: `tryLease` answers 'unavailable' when memcached is unreachable, and the caller leads. A fleet whose memcached is
 * down must fall back to in-process coalescing (every process fetches once) rather than have every request wait
 * for a leader that can never be elected.
 */
export class MemcachedStore implements SharedTier, LeaseStore {
  readonly name = 'memcached'
  readonly #nodes: MemcachedNodes
  readonly #leases: MemcachedLeases
  readonly #maxItemBytes: number
  readonly #options: MemcachedStoreOptions
  readonly #keys: KeyMemo

  constructor (options: MemcachedStoreOptions) {
    assertOptions(options)
    this.#options = options
    this.#maxItemBytes = options.maxItemBytes
    this.#keys = new KeyMemo(options.prefix)
    this.#nodes = new MemcachedNodes(options, `${options.prefix}connect`)
    this.#leases = new MemcachedLeases(this.#nodes, options.prefix)
    this.ready = this.#nodes.ready
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
    return this.#nodes.isReachable(this.#keys.itemKey(key))
  }

  onNodeBack (listener: () => void): void {
    this.#nodes.onNodeBack(listener)
  }

  async set (key: string, record: CacheRecord, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) return
    const itemKey = this.#keys.itemKey(key)
    const value = encodeRecord(record)
    if (value.length > this.#maxItemBytes - ITEM_OVERHEAD_BYTES - itemKey.length) {
      this.#options.onSkip?.('too-large')
      return
    }
    const node = this.#nodes.pick(itemKey)
    if (node === undefined) return
    await this.#nodes.call<boolean | null>(node, 'set', done => {
      node.client.set(itemKey, value, { expires: expirySeconds(ttlMs) }, (err, ok) => done(err, ok))
    })
  }

  async delete (key: string): Promise<void> {
    const itemKey = this.#keys.itemKey(key)
    const node = this.#nodes.pick(itemKey)
    if (node === undefined) return
    await this.#nodes.call<boolean | null>(node, 'delete', done => {
      node.client.delete(itemKey, (err, ok) => done(err, ok))
    })
  }

  /** See MemcachedLeases.tryLease: 'unavailable' when memcached could not say. */
  async tryLease (key: string, ttlMs: number): Promise<LeaseResult> {
    return await this.#leases.tryLease(key, ttlMs)
  }

  /**
   * Deletes the lease if it is still the one this store wrote. The read and the delete are two steps (memjs has
   * no delete-with-CAS), which leaves a window of one round trip instead of the lease's whole lifetime.
   */
  async release (key: string): Promise<void> {
    await this.#leases.release(key)
  }

  async close (): Promise<void> {
    this.#leases.close()
    this.#nodes.close()
  }

  /** How many keys the two memos hold (for tests). */
  get memoisedKeys (): { itemKeys: number, meta: number } {
    return this.#keys.sizes
  }

  /** Every node's state, in the configured order (read at scrape and by /flags, never per request). */
  nodeStates (): MemcachedNodeState[] {
    return this.#nodes.states()
  }

  /** The item under `key`: FAILED when its node is skipped or did not answer. Not async: no extra microtask per hit. */
  #read (key: string): Promise<Buffer | null | Failed> {
    const itemKey = this.#keys.itemKey(key)
    const node = this.#nodes.pick(itemKey)
    if (node === undefined) return Promise.resolve(FAILED)
    return this.#nodes.call<Buffer | null>(node, 'get', done => {
      node.client.get(itemKey, (err, value) => done(err, value))
    })
  }
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
