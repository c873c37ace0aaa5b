import { decodeRecord, encodeRecord, stampOf } from './codec.js'
import { expirySeconds } from './expiry.js'
import { assertOptions, type MemcachedStoreOptions } from './memcached-options.js'
import { KeyMemo } from './key-memo.js'
import { MemcachedLeases, type LeaseResult } from './memcached-leases.js'
import { FAILED, MemcachedNodes, type Failed, type MemcachedNodeState } from './memcached-nodes.js'
import { ReadFlight } from './read-flight.js'
import { RecordMemo } from './record-memo.js'
import { UNREACHABLE, type SharedTier, type Unreachable } from './shared-tier.js'
import type { CacheRecord, LeaseStore } from './types.js'
import { ChunkedItems } from './chunks.js'
import { makeItemIO } from './chunk-io.js'
import { ChunkRanges, type RangedRead } from './chunk-ranges.js'
import type { PickBytes, RangedTier, StreamedTier } from './ranged-tier.js'
import { decodeHead, isChunkHead, type ChunkHead } from './chunk-codec.js'
import { ChunkedMemo, entryOfChunks } from './chunked-memo.js'
import { noteChunkedRead } from './chunked-reads.js'
import type { SideItems } from './filling-record.js'
import { commitPublished } from './chunk-commit.js'
import { streamPart } from './chunk-stream.js'
import { publishingOf } from '../core/published-body.js'
import type { StoredEntry } from '../core/entry.js'

export { expirySeconds, leaseExpirySeconds } from './expiry.js'
export { leaseKey, memcachedKey } from './key-memo.js'
export type { MemcachedStoreOptions } from './memcached-options.js'

/** Item header (~56 bytes with CAS) and the trailing CRLF: an item is key + value + this in a slab chunk. */
const ITEM_OVERHEAD_BYTES = 64
/** Room left in a chunk item for its key (a chunk key is the item key plus at most 28 bytes: chunk-codec.ts). */
const CHUNK_KEY_ROOM_BYTES = 280

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
export class MemcachedStore implements SharedTier, LeaseStore, RangedTier, StreamedTier {
  readonly name = 'memcached'
  readonly #nodes: MemcachedNodes
  readonly #leases: MemcachedLeases
  readonly #maxItemBytes: number
  readonly #options: MemcachedStoreOptions
  /** Gets of one item share the one in flight (read-flight.ts), and so do the reads that decode it, by full key. */
  readonly #reads = new ReadFlight<Buffer | null | Failed>()
  readonly #gets = new ReadFlight<CacheRecord | undefined>()
  readonly #lookups = new ReadFlight<CacheRecord | undefined | Unreachable>()
  readonly #keys: KeyMemo
  /** The record decoded from each key's stored version, handed out again while memcached answers that version. */
  readonly #records = new RecordMemo()
  readonly #chunks: ChunkedItems
  readonly #chunkedMemo = new ChunkedMemo()
  readonly #ranges: ChunkRanges

  constructor (options: MemcachedStoreOptions) {
    assertOptions(options)
    this.#options = options
    this.#maxItemBytes = options.maxItemBytes
    this.#keys = new KeyMemo(options.prefix)
    this.#nodes = new MemcachedNodes(options, `${options.prefix}connect`)
    this.#leases = new MemcachedLeases(this.#nodes, options.prefix)
    this.ready = this.#nodes.ready
    // Entries over one item: chunks on the node that owns the head's key (chunks.ts), with a deadline of their own.
    const io = makeItemIO(this.#nodes, options.timeoutMs)
    const valueBytes = options.maxItemBytes - ITEM_OVERHEAD_BYTES - CHUNK_KEY_ROOM_BYTES
    this.#chunks = new ChunkedItems(io, valueBytes, options.onChunks)
    this.#ranges = new ChunkRanges(io, options.onChunks)
    const keys = this.#keys
    this.side = {
      valueBytes,
      set: async (key, suffix, value, expires) => { const itemKey = keys.itemKey(key); return await io.set(itemKey, itemKey + suffix, value, expires) },
      get: async (key, suffix) => { const itemKey = keys.itemKey(key); return await io.get(itemKey, itemKey + suffix) }
    }
  }

  /** Items beside a key's own, on its node, with the chunks' deadline (a streaming fill's: coalesce/fleet-publish.ts). */
  readonly side: SideItems

  /** Resolves once every node has been tried (connected, refused or timed out); never rejects. */
  readonly ready: Promise<void>

  /**
   * Not async, and reads of one key in flight share one promise of the decoded record (#gets, keyed by the full key):
   * a read that joins costs one Map lookup, with no promise, microtask or decode of its own (an async get that decoded
   * per caller cost each memcached hit about 0.6 µs more, bench/micro-memcached.ts).
   */
  get (key: string): Promise<CacheRecord | undefined> {
    return this.#gets.joined(key) ?? this.#gets.track(key, this.#read(key).then(value => value === FAILED ? undefined : this.#decode(key, value, undefined)))
  }

  /** `get` that tells a miss from a node it could not ask (down, failed, timed out). */
  lookup (key: string): Promise<CacheRecord | undefined | Unreachable> {
    return this.#lookups.joined(key) ?? this.#lookups.track(key, this.#read(key).then(value => value === FAILED ? UNREACHABLE : this.#decode(key, value, UNREACHABLE)))
  }

  /** `lookup` for a Range request: of a chunked entry, only the chunks `pick` needs (chunk-ranges.ts). */
  async lookupRange (key: string, pick: PickBytes): Promise<CacheRecord | undefined | Unreachable> {
    const value = await this.#read(key)
    if (value === FAILED) return UNREACHABLE
    if (value === null) return undefined
    if (!isChunkHead(value)) return decodeRecord(value, key, this.#keys.metaFor(key))
    const head = decodeHead(value)
    if (head === undefined) return undefined
    const itemKey = this.#keys.itemKey(key)
    const known = this.#chunkedMemo.get(itemKey, head.version)
    const read = known !== undefined && known.key === key ? WHOLE_READ : await this.#ranges.read(itemKey, key, head, pick)
    switch (read.kind) {
      case 'part':
        noteChunkedRead(read.entry)
        return read.entry
      case 'whole': return await this.#readChunked(key, value, UNREACHABLE)
      case 'torn': return undefined
      case 'failed': return UNREACHABLE
    }
  }

  /** A fresh full GET's read: a chunked entry streams as its chunks arrive (chunk-stream.ts); null: read it with `get`. */
  async lookupStream (key: string, pick: PickBytes): Promise<StoredEntry | null> {
    const value = await this.#read(key)
    const head = value === FAILED || value === null ? undefined : decodeHead(value)
    const itemKey = this.#keys.itemKey(key)
    // Read before in this process and still alive: `get` has it at once.
    if (head === undefined || this.#chunkedMemo.get(itemKey, head.version) !== undefined) return null
    return await streamPart(key, head, this.#chunks.whole(itemKey, head), pick)
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
    // A body over one item that a streaming fill wrote as chunks already: its head commits them (chunks.ts commit).
    const publishing = record.kind === 'entry' ? publishingOf(record.body) : undefined
    this.#forget(key, itemKey)
    const room = this.#maxItemBytes - ITEM_OVERHEAD_BYTES - itemKey.length
    if (publishing !== undefined && await commitPublished(this.#chunks, this.#keys, itemKey, record as StoredEntry, await publishing, ttlMs, room)) return
    const value = encodeRecord(record)
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
    this.#forget(key, itemKey)
    this.#records.forget(key)
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

  /** How many decoded versions the record memo holds, and what it counts them as (for tests). */
  get memoisedRecords (): { records: number, bytes: number } {
    return { records: this.#records.size, bytes: this.#records.bytes }
  }

  /** Every node's state, in the configured order (read at scrape and by /flags, never per request). */
  nodeStates (): MemcachedNodeState[] {
    return this.#nodes.states()
  }

  /** A write or delete of `key` is on its way: reads from now on ask memcached again (read-flight.ts). */
  #forget (key: string, itemKey: string): void {
    this.#reads.forget(itemKey)
    this.#gets.forget(key)
    this.#lookups.forget(key)
  }

  /**
   * The record an item holds: a miss for nothing there, `failed` for chunks a node did not answer. A version decoded
   * before is not decoded again (record-memo.ts); a long key is decoded every time, as it is not memoised at all
   * (key-memo.ts MAX_MEMO_KEY_CHARS).
   */
  #decode<F> (key: string, value: Buffer | null, failed: F): CacheRecord | undefined | F | Promise<CacheRecord | undefined | F> {
    if (value === null) return undefined
    if (isChunkHead(value)) return this.#readChunked(key, value, failed)
    const meta = this.#keys.metaFor(key)
    const stamp = stampOf(value)
    if (meta === undefined || stamp === undefined) return decodeRecord(value, key, meta)
    const known = this.#records.get(key, stamp)
    if (known !== undefined) return known
    const record = decodeRecord(value, key, meta)
    return record === undefined ? undefined : this.#records.keep(key, stamp, record, value.length)
  }

  /** A value stored as chunks (chunks.ts): torn is a miss; a node that did not answer is `failed` (a miss or UNREACHABLE). */
  async #readChunked<F> (key: string, head: Buffer, failed: F): Promise<CacheRecord | undefined | F> {
    const itemKey = this.#keys.itemKey(key)
    const decoded = decodeHead(head)
    const known = decoded === undefined ? undefined : this.#chunkedMemo.get(itemKey, decoded.version)
    if (known !== undefined && known.key === key) {
      noteChunkedRead(known)
      return known
    }
    const read = await this.#chunks.read(itemKey, head)
    switch (read.kind) {
      case 'value': {
        const entry = entryOfChunks(decoded as ChunkHead, read.value, key)
        if (entry?.kind !== 'entry') return entry
        this.#chunkedMemo.set(itemKey, (decoded as ChunkHead).version, entry)
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
      node.get(itemKey, done)
    }))
  }
}

const WHOLE_READ: RangedRead = { kind: 'whole' }
