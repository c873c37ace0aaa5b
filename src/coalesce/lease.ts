/**
 * coalesce/lease: fleet-wide coalescing on top of the in-process single-flight. The process that leads a key also
 * asks memcached for the key's lease (`add`, so one winner fleet-wide). The winner fetches; the others poll the
 * shared tier for the fill with backoff, and take the lease over if it expires without one (the leader died).
 *   [I/O: memcached through LeaseStore and the shared CacheStore]
 */
import type { CacheStore, LeaseStore, StoredEntry, VaryIndex } from '../store/types.js'
import { makeVariantKey } from '../key.js'
import type { HeaderRecord } from '../core/headers.js'
import type { LeaseStep } from '../core/trace.js'
import { WaiterTimeoutError, type CorralError } from '../core/errors.js'
import type { GrowingFill } from '../origin/growing-fill.js'

export type FleetTurn =
  /**
   * Fetch from the origin; call `release` when the fill is stored (or failed). `publish`: this process holds the lease,
   * and a fill that streams is published for followers (fleet-publish.ts).
   */
  | { readonly kind: 'lead', readonly release: () => void, readonly publish: boolean }
  /** Another process's fill is arriving: stream it (fleet-follow.ts). */
  | { readonly kind: 'follow', readonly followed: FollowedFill }
  /**
   * Another process filled the key while we waited. `vary` is the Vary index read on the way when `key` was the
   * primary and the fill varies; null when the entry was stored at `key` itself, which may be a variant key (the
   * caller knows the index it looked the variant up by).
   */
  | { readonly kind: 'entry', readonly entry: StoredEntry, readonly vary: VaryIndex | null }
  /** No fill and no lease before the deadline. */
  | { readonly kind: 'error', readonly error: CorralError }

/** Another process's fill read while it arrives: its clients may join at once. */
export interface FollowedFill {
  readonly growing: GrowingFill
  /** The entry once its body is whole, or the error its clients were cut off with. Never rejects. */
  readonly done: Promise<StoredEntry | CorralError>
}

/**
 * Large fills streamed across the fleet while they arrive (coalesce/fleet-stream.ts). Given to the lease rather than
 * imported: the memcached layout it needs sits deeper than the import graph allows below the lease.
 */
export interface FleetStreams {
  /**
   * The fill of `key` another process publishes for this request's variant, newer than `replacingStoredAt`; null when
   * none. Nothing is read past its record until the caller starts following it.
   */
  find (key: string, primaryKey: string, requestHeaders: HeaderRecord, replacingStoredAt: number): Promise<(() => FollowedFill) | null>
  /** Publishes a lease holder's streaming fill for followers; never rejects. */
  publish (key: string, growing: GrowingFill): void
}

export interface FleetLeaseOptions {
  readonly leases: LeaseStore
  /** The shared tier, read directly: L1 may still hold the copy being replaced. */
  readonly shared: CacheStore
  readonly leaseTtlMs: number
  /** How long a follower waits for someone's fill, in total, before giving up (longer than the lease). */
  readonly waitMs: number
  readonly now: () => number
  readonly onLease?: (result: NonNullable<LeaseStep>, key: string) => void
  /** Absent: followers wait for the stored entry. */
  readonly streams?: FleetStreams | undefined
}

const FIRST_POLL_MS = 10
const MAX_POLL_MS = 200

export class FleetLease {
  readonly #o: FleetLeaseOptions

  constructor (options: FleetLeaseOptions) {
    this.#o = options
  }

  get options (): FleetLeaseOptions {
    return this.#o
  }

  /**
   * Lead or follow. `replacingStoredAt` is the storedAt of the copy being replaced (0 for a miss): a fill is a record
   * stored after it. `requestHeaders` pick the variant when the fill turns out to vary. `stream`: a fill another process
   * is still receiving may be followed as it arrives (not for a background refresh, which nobody reads).
   */
  async takeTurn (
    key: string, primaryKey: string, requestHeaders: HeaderRecord, replacingStoredAt: number, trace: { lease: LeaseStep } | null = null,
    stream = true
  ): Promise<FleetTurn> {
    const o = this.#o
    const note = (step: NonNullable<LeaseStep>): void => {
      if (trace !== null) trace.lease = step
      o.onLease?.(step, key)
    }
    const first = await o.leases.tryLease(key, o.leaseTtlMs)
    note(first)
    if (first !== 'held') return this.#lead(key, first === 'acquired')
    const streams = stream ? o.streams : undefined
    const deadline = o.now() + o.waitMs
    for (let delay = FIRST_POLL_MS; o.now() < deadline; delay = Math.min(delay * 2, MAX_POLL_MS)) {
      await sleep(Math.min(delay, Math.max(1, deadline - o.now())))
      // One round trip for both: the stored fill, else one still arriving (a large one another process streams).
      const [filled, filling] = await Promise.all([
        this.#findFill(key, primaryKey, requestHeaders, replacingStoredAt),
        streams === undefined ? null : streams.find(key, primaryKey, requestHeaders, replacingStoredAt)
      ])
      if (filled !== null) {
        note('filled')
        return filled
      }
      if (filling !== null) {
        note('streamed')
        return { kind: 'follow', followed: filling() }
      }
      const again = await o.leases.tryLease(key, o.leaseTtlMs)
      if (again !== 'held') {
        // The leader may have stored and released between the read above and this add (a write of a large entry's
        // chunks widens that window): one more look before fetching again.
        const late = await this.#findFill(key, primaryKey, requestHeaders, replacingStoredAt)
        if (late !== null) {
          if (again === 'acquired') o.leases.release(key).catch(noop)
          note('filled')
          return late
        }
        note('takeover')
        return this.#lead(key, again === 'acquired')
      }
    }
    note('timeout')
    return { kind: 'error', error: new WaiterTimeoutError() }
  }

  #lead (key: string, acquired: boolean): FleetTurn {
    const { leases } = this.#o
    return { kind: 'lead', release: () => { leases.release(key).catch(noop) }, publish: acquired && this.#o.streams !== undefined }
  }

  /** Publishes a lease holder's streaming fill for followers; never rejects. */
  publish (key: string, growing: GrowingFill): void {
    this.#o.streams?.publish(key, growing)
  }

  async #findFill (key: string, primaryKey: string, headers: HeaderRecord, after: number): Promise<FleetTurn | null> {
    const record = await this.#o.shared.get(key)
    if (record === undefined) return null
    if (record.kind === 'entry') return record.storedAt > after ? { kind: 'entry', entry: record, vary: null } : null
    // The key was the primary and the fill varies: read the variant this request wants.
    const variantKey = makeVariantKey(primaryKey, record.epoch, record.varyHeaders, headers)
    const variant = await this.#o.shared.get(variantKey)
    return variant?.kind === 'entry' && variant.storedAt > after ? { kind: 'entry', entry: variant, vary: record } : null
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

function noop (): void {}
