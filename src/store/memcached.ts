import type { Clock } from '../core/clock.js'
import { decodeRecord, encodeRecord } from './codec.js'
import { expirySeconds } from './expiry.js'
import { KeyMemo } from './key-memo.js'
import { MemcachedLeases, type LeaseResult } from './memcached-leases.js'
import { FAILED, MemcachedNodes, type Failed, type MemcachedNodeState, type SkipReason } from './memcached-nodes.js'
import { ReadFlight } from './read-flight.js'
import { UNREACHABLE, type SharedTier, type Unreachable } from './shared-tier.js'
import type { CacheRecord, LeaseStore } from './types.js'
import { ChunkedItems, type ChunkEvent } from './chunks.js'
import { decodeHead, isChunkHead } from './chunk-codec.js'
import { ChunkedMemo, withOwnedBody } from './chunked-memo.js'
import { noteChunkedRead } from './chunked-reads.js'
import type { SideItems } from './filling-record.js'

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
  /** A value over one item stored, read, found torn or not stored as chunks (chunks.ts). */
  onChunks?: ((event: ChunkEvent, bytes: number) => void) | undefined
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
/** Room left in a chunk item for its key (a chunk key is the item key plus at most 28 bytes: chunk-codec.ts). */
const CHUNK_KEY_ROOM_BYTES = 280
/**
 * A chunk get or set moves up to an item's worth of bytes behind up to three others on the same connection, and is
 * read by a process that may be busy writing the same object to many clients: the deadline meant for a 1 KiB hit
 * (50 ms by default) would time whole nodes out for a busy moment. Measured: while one proxy streamed 5 MB to 50
 * clients, its 1 MB chunk sets were answered (read off the socket) after more than 1 s, and a failed write costs the
 * fleet a second origin fetch. A chunk write delays no client; a chunk read delays the requests waiting for it.
 */
const CHUNK_TIMEOUT_FLOOR_MS = 5000

/**
 * L2: memcached through memjs, one client per node and our own ring, so failure handling is ours and not
 * memjs's (its retries would multiply a slow node's cost; its failover would move keys behind the ring's back).
 * This file is the store; its parts are kept apart: the nodes, their clients and health (memcached-nodes.ts, over
 * node-health.ts and write-batching.ts), the leases (memcached-leases.ts, over lease-renewal.ts), the key memo
 * (key-memo.ts) and the reads in flight (read-flight.ts).
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
  /** Gets of one item share the one in flight (read-flight.ts). */
  readonly #reads = new ReadFlight<Buffer | null | Failed>()
  readonly #keys: KeyMemo
  readonly #chunks: ChunkedItems
  readonly #chunkedMemo = new ChunkedMemo()

  constructor (options: MemcachedStoreOptions) {
    assertOptions(options)
    this.#options = options
    this.#maxItemBytes = options.maxItemBytes
    this.#keys = new KeyMemo(options.prefix)
    this.#nodes = new MemcachedNodes(options, `${options.prefix}connect`)
    this.#leases = new MemcachedLeases(this.#nodes, options.prefix)
    this.ready = this.#nodes.ready
    // Entries over one item: chunks on the node that owns the head's key (chunks.ts), with a deadline of their own.
    const nodes = this.#nodes
    const chunkTimeoutMs = Math.max(options.timeoutMs, CHUNK_TIMEOUT_FLOOR_MS)
    this.#chunks = new ChunkedItems({
      set: async (owner, itemKey, value, expires) => {
        const node = nodes.pick(owner)
        if (node === undefined) return false
        const ok = await nodes.call<boolean | null>(node, 'set', done => {
          node.client.set(itemKey, value, { expires }, (err, stored) => done(err, stored))
        }, chunkTimeoutMs)
        return ok === true
      },
      get: async (owner, itemKey) => {
        const node = nodes.pick(owner)
        if (node === undefined) return undefined
        const value = await nodes.call<Buffer | null>(node, 'get', done => {
          node.client.get(itemKey, (err, item) => done(err, item))
        }, chunkTimeoutMs)
        return value === FAILED ? undefined : value
      }
    }, options.maxItemBytes - ITEM_OVERHEAD_BYTES - CHUNK_KEY_ROOM_BYTES, options.onChunks)
    const io = this.#chunks.io
    const keys = this.#keys
    this.side = {
      valueBytes: options.maxItemBytes - ITEM_OVERHEAD_BYTES - CHUNK_KEY_ROOM_BYTES,
      set: async (key, suffix, value, expires) => { const itemKey = keys.itemKey(key); return await io.set(itemKey, itemKey + suffix, value, expires) },
      get: async (key, suffix) => { const itemKey = keys.itemKey(key); return await io.get(itemKey, itemKey + suffix) }
    }
  }

  /** Items beside a key's own, on its node, with the chunks' deadline (a streaming fill's: coalesce/fleet-publish.ts). */
  readonly side: SideItems

  /** Resolves once every node has been tried (connected, refused or timed out); never rejects. */
  readonly ready: Promise<void>

  async get (key: string): Promise<CacheRecord | undefined> {
    const value = await this.#read(key)
    if (value === FAILED || value === null) return undefined
    if (isChunkHead(value)) return await this.#readChunked(key, value, undefined)
    return decodeRecord(value, key, this.#keys.metaFor(key))
  }

  /** `get` that tells a miss from a node it could not ask (down, failed, timed out). */
  async lookup (key: string): Promise<CacheRecord | undefined | Unreachable> {
    const value = await this.#read(key)
    if (value === FAILED) return UNREACHABLE
    if (value === null) return undefined
    if (isChunkHead(value)) return await this.#readChunked(key, value, UNREACHABLE)
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
    this.#reads.forget(itemKey)
    if (value.length > this.#maxItemBytes - ITEM_OVERHEAD_BYTES - itemKey.length) {
      const written = await this.#chunks.write(itemKey, value, ttlMs)
      if (written === 'too-large') this.#options.onSkip?.('too-large')
      else if (written === 'failed') this.#options.onChunks?.('write-failed', value.length)
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
    this.#reads.forget(itemKey)
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

  /** A value stored as chunks (chunks.ts): torn is a miss; a node that did not answer is `failed` (a miss or UNREACHABLE). */
  async #readChunked<F> (key: string, head: Buffer, failed: F): Promise<CacheRecord | undefined | F> {
    const itemKey = this.#keys.itemKey(key)
    const version = decodeHead(head)?.version
    const known = version === undefined ? undefined : this.#chunkedMemo.get(itemKey, version)
    if (known !== undefined && known.key === key) {
      noteChunkedRead(known)
      return known
    }
    const read = await this.#chunks.read(itemKey, head)
    switch (read.kind) {
      case 'value': {
        const record = decodeRecord(read.value, key)
        if (record?.kind !== 'entry') return record
        const entry = withOwnedBody(record)
        if (version !== undefined) this.#chunkedMemo.set(itemKey, version, entry)
        noteChunkedRead(entry)
        return entry
      }
      case 'torn': return undefined
      case 'failed': return failed
    }
  }

  /** The item under `key`: FAILED when its node is skipped or did not answer. Not async: no extra microtask per hit. */
  #read (key: string): Promise<Buffer | null | Failed> {
    const itemKey = this.#keys.itemKey(key)
    const node = this.#nodes.pick(itemKey)
    if (node === undefined) return Promise.resolve(FAILED)
    // Not async either: the read that goes to memcached costs no extra microtask, and reads that join it none.
    return this.#reads.read(itemKey, () => this.#nodes.call<Buffer | null>(node, 'get', done => {
      node.client.get(itemKey, (err, value) => done(err, value))
    }))
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
