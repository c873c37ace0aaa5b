/**
 * purge/purger: one proxy's purges. An order from the admin listener becomes invalidation records, applied here at once
 * (the ban list for memcached reads and fills in flight, a sweep of L1 so memory hits never check anything) and
 * published to memcached for the rest of the fleet; records published elsewhere arrive through the channel and get
 * the same local treatment.  [I/O: the cache, the channel]
 */
import type { Metrics } from '../core/metrics.js'
import type { Logger } from '../core/log.js'
import type { MemoryStore } from '../store/memory.js'
import type { KeyOptions } from '../key.js'
import { BanList, type BanRecord } from './bans.js'
import { SeenNames } from './seen.js'
import type { PurgeChannel } from './fleet.js'
import { makeBanRecords, type PurgeOrder, type PurgeReport } from './order.js'

export interface PurgerDeps {
  readonly bans: BanList
  readonly metrics: Metrics
  readonly logger: Logger
  readonly now: () => number
  /** The in-process tier in force (TieredStore's L1 or the embedded store); undefined when L1 is off. */
  readonly memory: () => MemoryStore | undefined
  /** A hard URL purge also deletes the key where it is stored (memcached included) and its hit-for-pass memory. */
  readonly deleteKey: (primaryKey: string) => Promise<void>
  readonly keyOptions: () => KeyOptions
  /** How long records are kept (cache.purge.recordTtlSeconds, ms). */
  readonly recordTtlMs: () => number
}

export class Purger {
  readonly #d: PurgerDeps
  #channel: PurgeChannel | null = null

  constructor (deps: PurgerDeps) {
    this.#d = deps
  }

  /** The memcached channel in force (null: embedded cache only); the old one, if any, is closed by the caller. */
  useChannel (channel: PurgeChannel | null): void {
    this.#channel = channel
  }

  /**
   * Carry out an operator's order here and, when `publish` (a cluster's workers all apply, one publishes), tell the
   * fleet. Throws a ConfigError for a URL, prefix or host no request could name.
   */
  async purge (order: PurgeOrder, publish = true): Promise<PurgeReport> {
    const records = makeBanRecords(order, this.#d.keyOptions(), this.#d.now())
    const touched = this.apply(records)
    if (order.kind === 'url' && !order.soft) for (const record of records) await this.#d.deleteKey(record.value)
    const channel = publish ? this.#channel : null
    const fleet = channel !== null && await channel.publish(records)
    const mode = order.soft ? 'soft' : 'hard'
    this.#d.metrics.purges.labels(order.kind, mode).inc(records.length)
    const report: PurgeReport = {
      purged: { kind: order.kind, values: order.values, host: order.host ?? null },
      mode,
      touched,
      fleet,
      ...(order.kind === 'url' ? { key: (records[0] as BanRecord).value } : {}),
      reach: {
        memory: touched,
        memcached: this.#channel === null ? 'off' : 'unknown',
        recordsWritten: fleet ? records.length : 0,
        seenHere: this.#d.bans.seen.matches(records),
        seenScope: SeenNames.SCOPE
      }
    }
    this.#d.logger.info({ ...report.purged, mode, touched, fleet, seenHere: report.reach?.seenHere }, 'purged')
    return report
  }

  /** Records from here or elsewhere: into the ban list, then one sweep of L1. Answers the entries it touched. */
  apply (records: readonly BanRecord[]): number {
    const { bans } = this.#d
    bans.expire(this.#d.now() - this.#d.recordTtlMs())
    for (const record of records) bans.add(record)
    const memory = this.#d.memory()
    if (memory === undefined) return 0
    // Only these records: the entries in L1 already passed the older ones.
    const batch = new BanList(bans.softStaleMs)
    for (const record of records) batch.add(record)
    return memory.sweep((entry) => batch.screen(entry))
  }
}
