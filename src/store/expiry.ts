/** memcached reads an expiry above 30 days as a Unix timestamp (protocol.txt, "Expiration times"). */
const MAX_RELATIVE_EXPIRY_SECONDS = 60 * 60 * 24 * 30

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
