import type { Clock } from '../core/clock.js'
import type { ChunkEvent } from './chunks.js'
import type { SkipReason } from './memcached-nodes.js'

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

export function assertOptions (options: MemcachedStoreOptions): void {
  const { timeoutMs, retryDownMs, prefix, maxItemBytes } = options
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError(`expected timeoutMs to be a positive number, got ${timeoutMs}`)
  if (!Number.isFinite(retryDownMs) || retryDownMs < 0) throw new TypeError(`expected retryDownMs to be a number ≥ 0, got ${retryDownMs}`)
  if (!Number.isFinite(maxItemBytes) || maxItemBytes < 1024) throw new TypeError(`expected maxItemBytes to be a number ≥ 1024 (memcached's own floor for -I), got ${maxItemBytes}`)
  if (typeof prefix !== 'string' || Buffer.byteLength(prefix) > MAX_PREFIX_BYTES || /[^\x21-\x7e]/.test(prefix)) {
    throw new TypeError(`expected prefix to be at most ${MAX_PREFIX_BYTES} printable ASCII characters without spaces, got ${JSON.stringify(prefix)}`)
  }
}
