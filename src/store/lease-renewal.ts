/**
 * Keeping a fleet lease while its holder fills: the lease is renewed every ttlMs/2 until release, so a fill that
 * outlasts leaseTtlMs (queue wait, retries, a slow body) is not taken over by a follower while it runs. Each renewal
 * checks the token first (get, then touch: memjs has no touch-with-CAS, so the window is one round trip) and stops
 * once the lease is someone else's. The memcached calls come from the store (LeaseOps); this file owns the timers.
 */

/**
 * A lease is renewed for at most this long: a holder that never releases must not keep a key away from the whole
 * fleet for good.
 */
export const MAX_LEASE_RENEW_MS = 10 * 60_000

export interface LeaseOps {
  /** The token the lease item holds now: null when there is none, undefined when memcached did not answer. */
  holder (itemKey: string): Promise<string | null | undefined>
  /** Extends the lease item's expiry to last another `ttlMs`. */
  touch (itemKey: string, ttlMs: number): Promise<void>
}

/** What one renewal does, given the token we wrote and what the lease item holds now. */
export type RenewalStep = 'touch' | 'retry' | 'lost'

/** Unknown (error, timeout): try again on the next tick, the lease still has half its time. Another token: lost. */
export function renewalStep (ours: string, holder: string | null | undefined): RenewalStep {
  if (holder === undefined) return 'retry'
  return holder === ours ? 'touch' : 'lost'
}

/** How often a lease of `ttlMs` is renewed, and how many renewals MAX_LEASE_RENEW_MS allows. */
export function renewalSchedule (ttlMs: number): { everyMs: number, times: number } {
  const everyMs = Math.max(1, Math.floor(ttlMs / 2))
  return { everyMs, times: Math.ceil(MAX_LEASE_RENEW_MS / everyMs) }
}

interface HeldLease {
  readonly token: string
  readonly timer: ReturnType<typeof setInterval>
}

/** Lease key → the token we wrote, so a release never deletes (and a renewal never extends) a lease someone else took. */
export class LeaseRenewals {
  readonly #ops: LeaseOps
  readonly #held = new Map<string, HeldLease>()

  constructor (ops: LeaseOps) {
    this.#ops = ops
  }

  /** The lease is ours: renew it until `drop`. */
  hold (itemKey: string, token: string, ttlMs: number): void {
    this.drop(itemKey)
    const { everyMs, times } = renewalSchedule(ttlMs)
    let left = times
    let renewing = false
    const timer = setInterval(() => {
      if (this.#held.get(itemKey)?.token !== token || --left < 0) {
        clearInterval(timer)
        return
      }
      if (renewing) return
      renewing = true
      // #renew never rejects (the ops resolve on failure); the catch only keeps the interval going if that changes.
      this.#renew(itemKey, token, ttlMs).catch(() => {}).finally(() => { renewing = false })
    }, everyMs)
    timer.unref()
    this.#held.set(itemKey, { token, timer })
  }

  /** Stops renewing; answers the token we wrote, or undefined when the lease is not (or no longer) ours. */
  drop (itemKey: string): string | undefined {
    const held = this.#held.get(itemKey)
    if (held === undefined) return undefined
    clearInterval(held.timer)
    this.#held.delete(itemKey)
    return held.token
  }

  close (): void {
    for (const held of this.#held.values()) clearInterval(held.timer)
    this.#held.clear()
  }

  async #renew (itemKey: string, token: string, ttlMs: number): Promise<void> {
    const holder = await this.#ops.holder(itemKey)
    if (this.#held.get(itemKey)?.token !== token) return
    switch (renewalStep(token, holder)) {
      case 'retry':
        return
      case 'lost':
        // Expired or taken over: no longer ours, and release must not delete the new holder's lease.
        this.drop(itemKey)
        return
      case 'touch':
        await this.#ops.touch(itemKey, ttlMs)
    }
  }
}
