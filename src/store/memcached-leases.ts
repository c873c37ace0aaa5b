/**
 * memcached-leases: fleet leases as memcached items. A lease is an `add` of its key holding a random token, renewed
 * while held (lease-renewal.ts), and deleted on release only if it still holds this process's token.
 */
import { randomBytes } from 'node:crypto'
import { leaseExpirySeconds } from './expiry.js'
import { leaseKey } from './key-memo.js'
import { LeaseRenewals } from './lease-renewal.js'
import { FAILED, type Failed, type MemcachedNode, type MemcachedNodes } from './memcached-nodes.js'

export type LeaseResult = 'acquired' | 'held' | 'unavailable'

export class MemcachedLeases {
  readonly #nodes: MemcachedNodes
  readonly #prefix: string
  readonly #renewals: LeaseRenewals

  constructor (nodes: MemcachedNodes, prefix: string) {
    this.#nodes = nodes
    this.#prefix = prefix
    this.#renewals = new LeaseRenewals({
      holder: async (itemKey) => {
        const node = this.#nodes.pick(itemKey)
        if (node === undefined) return undefined
        const holder = await this.#holder(node, itemKey)
        return holder === FAILED ? undefined : holder
      },
      touch: async (itemKey, ttlMs) => {
        const node = this.#nodes.pick(itemKey)
        if (node === undefined) return
        await this.#nodes.call<boolean | null>(node, 'touch', done => {
          node.client.touch(itemKey, leaseExpirySeconds(ttlMs), (err, ok) => done(err, ok))
        })
      }
    })
  }

  /**
   * `add` of the lease key: 'acquired' when this caller now holds it, 'held' when another does, 'unavailable'
   * when memcached could not say (node down, error, timeout): the caller then coalesces in-process only.
   */
  async tryLease (key: string, ttlMs: number): Promise<LeaseResult> {
    const itemKey = leaseKey(this.#prefix, key)
    const node = this.#nodes.pick(itemKey)
    if (node === undefined) return 'unavailable'
    const token = randomBytes(12).toString('base64url')
    const added = await this.#nodes.call<boolean | null>(node, 'add', done => {
      node.client.add(itemKey, token, { expires: leaseExpirySeconds(ttlMs) }, (err, ok) => done(err, ok))
    })
    if (added === FAILED) return 'unavailable'
    if (added !== true) return 'held'
    this.#renewals.hold(itemKey, token, ttlMs)
    return 'acquired'
  }

  /**
   * Deletes the lease if it is still the one this store wrote. The read and the delete are two steps (memjs has
   * no delete-with-CAS), which leaves a window of one round trip instead of the lease's whole lifetime.
   */
  async release (key: string): Promise<void> {
    const itemKey = leaseKey(this.#prefix, key)
    const token = this.#renewals.drop(itemKey)
    if (token === undefined) return
    const node = this.#nodes.pick(itemKey)
    if (node === undefined) return
    if (await this.#holder(node, itemKey) !== token) return
    await this.#nodes.call<boolean | null>(node, 'delete', done => {
      node.client.delete(itemKey, (err, ok) => done(err, ok))
    })
  }

  close (): void {
    this.#renewals.close()
  }

  /** The token a lease item holds now: null when there is none, FAILED when memcached did not answer. */
  async #holder (node: MemcachedNode, itemKey: string): Promise<string | null | Failed> {
    const current = await this.#nodes.call<Buffer | null>(node, 'get', done => {
      node.client.get(itemKey, (err, value) => done(err, value))
    })
    return current === FAILED || current === null ? current : current.toString()
  }
}
