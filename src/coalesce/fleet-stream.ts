/**
 * coalesce/fleet-stream: large fills streamed across the fleet while they arrive, through memcached: the lease holder
 * publishes (fleet-publish.ts), the processes that lost the lease follow (fleet-follow.ts). Built with the cache and
 * handed to the lease (lease.ts FleetStreams).  [I/O: memcached through SideItems]
 */
import type { HeaderRecord } from '../core/headers.js'
import type { GrowingFill } from '../origin/growing-fill.js'
import { GrowingBody } from '../origin/growing-body.js'
import type { SideItems } from '../store/filling-record.js'
import { makeVariantKey } from '../key.js'
import { findFilling, followFill, type FillingPlace } from './fleet-follow.js'
import { publishFill, type FleetStreamEvent } from './fleet-publish.js'
import { FleetStreamError } from '../core/errors.js'
import type { FleetStreams, FollowedFill } from './lease.js'

export type { FleetStreamEvent } from './fleet-publish.js'

/** Seconds a published fill's items outlive its deadline: a follower that started late still finds the last chunks. */
const ITEM_MARGIN_SECONDS = 30

export class SideStreams implements FleetStreams {
  readonly #side: SideItems
  readonly #followMs: number
  readonly #now: () => number
  readonly #onEvent: (event: FleetStreamEvent, bytes: number) => void
  readonly #capacity: number

  /**
   * `followMs`: how long a fill may take to arrive whole (origin.fillBodyTimeoutMs, or without one the wait a follower
   * would have had for the stored entry): it bounds a follower, and the life of what a publisher writes. `capacity`:
   * cache.maxObjectBytes, what a follower reserves for a fill without a Content-Length.
   */
  constructor (side: SideItems, followMs: number, now: () => number, capacity: number, onEvent: (event: FleetStreamEvent, bytes: number) => void) {
    this.#side = side
    this.#followMs = followMs
    this.#now = now
    this.#onEvent = onEvent
    this.#capacity = capacity
  }

  async find (key: string, primaryKey: string, requestHeaders: HeaderRecord, replacingStoredAt: number): Promise<(() => FollowedFill) | null> {
    const place: FillingPlace = {
      side: this.#side,
      key,
      primaryKey,
      keyFor: vary => vary === null ? primaryKey : makeVariantKey(primaryKey, vary.epoch, vary.varyHeaders, requestHeaders)
    }
    const record = await findFilling(place)
    if (record === null || record.head.storedAt <= replacingStoredAt) return null
    return () => {
      const followed = followFill(place, record, this.#followMs, this.#now, this.#capacity)
      const body = followed.growing.body
      followed.done.then((result) => {
        // Relayed past this process's cache.maxObjectBytes: every byte reached its clients, and nothing is kept.
        if (body instanceof GrowingBody && body.overflowed && body.state === 'complete') this.#onEvent('followed', body.filled)
        else if (result instanceof FleetStreamError) this.#onEvent('follow-failed', 0)
        else this.#onEvent('followed', result.body.length)
      }, noop)
      return followed
    }
  }

  publish (key: string, growing: GrowingFill): void {
    // A fill coded on the fly is not published: its followers wait for the stored entry, whose coded bodies they serve.
    if (!growing.stored || growing.coded !== undefined) return
    publishFill(this.#side, key, growing, Math.ceil(this.#followMs / 1000) + ITEM_MARGIN_SECONDS, this.#onEvent).catch(noop)
  }
}

function noop (): void {}
