/**
 * purge/fleet: invalidation records shared through memcached, so a purge sent to one proxy is in force on every proxy
 * of the fleet within a second. memcached cannot list keys, so records are numbered: `incr purge:seq` hands out
 * numbers, the record goes to `purge:rec:<n>`, and every proxy polls `purge:seq` every `pollMs` and reads the numbers
 * it has not seen (pipelined gets on one connection: one round trip). On start a proxy reads the records still alive
 * before it serves, so a restarted proxy does not resurrect purged pages from memcached.  [I/O]
 *
 * All purge keys live on one node, the first of the sorted server list: every proxy must agree where `purge:seq` is,
 * whatever order its config lists the servers in. While that node is down purges are local only (the admin answer
 * says `"fleet": false`) and entries' L1 lifetime (cache.memory.maxTtlSeconds) bounds how long other proxies serve
 * a purged page from L1; memcached copies purged by tag or prefix stay in force there until the node is back.
 */
import memjs from 'memjs'
import type { Logger } from '../core/log.js'
import { parseBanRecord, type BanRecord } from './bans.js'

export interface PurgeChannelOptions {
  readonly servers: readonly string[]
  readonly prefix: string
  readonly pollMs: number
  /** How long a record lives in memcached (cache.purge.recordTtlSeconds). */
  readonly recordTtlSeconds: number
  readonly timeoutMs: number
  readonly logger: Logger
  /** Records another proxy published (or, at start, every record still alive). */
  readonly onRecords: (records: BanRecord[]) => void
}

/**
 * The most records read at start: more purges than this within recordTtlSeconds and a restarted proxy forgets the
 * oldest (their pages could come back from memcached until they expire). 50,000 gets take ~1 s on loopback.
 */
export const MAX_LOADED_RECORDS = 50_000
/** A number handed out but whose record is not written yet (incr and set are two steps) is asked for again this long. */
const PENDING_MS = 3000
const BATCH = 1000

export class PurgeChannel {
  readonly #o: PurgeChannelOptions
  readonly #client: memjs.Client
  readonly #seqKey: string
  /** The highest number read (or given up on). */
  #last = 0
  /** Numbers seen by `incr` but not yet readable, with when they were first missed. */
  readonly #pending = new Map<number, number>()
  /** Numbers this proxy published: applied when published, skipped when polled. */
  readonly #own = new Set<number>()
  #timer: NodeJS.Timeout | null = null
  #closed = false

  constructor (options: PurgeChannelOptions) {
    this.#o = options
    const server = [...options.servers].sort()[0]
    if (server === undefined) throw new TypeError('a purge channel needs a memcached server')
    const seconds = Math.max(0.05, options.timeoutMs / 1000)
    this.#client = memjs.Client.create(server, { retries: 0, failover: false, timeout: seconds, conntimeout: seconds, keepAlive: true, logger: { log () {} } })
    this.#seqKey = `${options.prefix}purge:seq`
  }

  /** Read the records still alive, then poll. Resolves (never rejects) once the first read is done or failed. */
  async start (): Promise<void> {
    const seq = await this.#readSeq()
    if (seq !== undefined) {
      const first = Math.max(1, seq - MAX_LOADED_RECORDS + 1)
      const records: BanRecord[] = []
      for (let from = first; from <= seq; from += BATCH) {
        const got = await this.#readRecords(range(from, Math.min(seq, from + BATCH - 1)))
        for (const record of got.values()) records.push(record)
      }
      this.#last = seq
      if (records.length > 0) this.#o.onRecords(records)
      this.#o.logger.info({ records: records.length, seq }, 'purge records loaded')
    }
    this.#schedule()
  }

  /** Number and write the records; resolves true when they are in memcached (every proxy will read them). */
  async publish (records: readonly BanRecord[]): Promise<boolean> {
    if (records.length === 0) return true
    try {
      const { value } = await this.#client.increment(this.#seqKey, records.length, { initial: records.length })
      if (typeof value !== 'number') return false
      const first = value - records.length + 1
      for (let i = 0; i < records.length; i++) this.#own.add(first + i)
      const writes = records.map(async (record, i) => await this.#client.set(this.#recordKey(first + i), JSON.stringify(record), { expires: this.#o.recordTtlSeconds }))
      return (await Promise.all(writes)).every(Boolean)
    } catch (err) {
      this.#o.logger.warn({ reason: (err as Error).message }, 'purge not published to memcached: in force on this proxy only')
      return false
    }
  }

  close (): void {
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#client.close()
  }

  #schedule (): void {
    if (this.#closed) return
    this.#timer = setTimeout(() => {
      this.#poll().catch((err: unknown) => this.#o.logger.warn({ err }, 'purge poll failed')).finally(() => this.#schedule())
    }, this.#o.pollMs)
    this.#timer.unref()
  }

  async #poll (): Promise<void> {
    const seq = await this.#readSeq()
    if (seq === undefined) return
    // The counter was evicted or the node restarted: numbering starts again from 1.
    if (seq < this.#last) {
      this.#last = 0
      this.#own.clear()
    }
    const wanted = [...this.#pending.keys()]
    for (let n = this.#last + 1; n <= seq && wanted.length < MAX_LOADED_RECORDS; n++) if (!this.#own.delete(n)) wanted.push(n)
    this.#last = seq
    if (wanted.length === 0) return
    const got = await this.#readRecords(wanted)
    const now = Date.now()
    const fresh: BanRecord[] = []
    for (const n of wanted) {
      const record = got.get(n)
      if (record !== undefined) {
        this.#pending.delete(n)
        fresh.push(record)
      } else if (now - (this.#pending.get(n) ?? now) < PENDING_MS) {
        if (!this.#pending.has(n)) this.#pending.set(n, now)
      } else {
        this.#pending.delete(n)
      }
    }
    if (fresh.length > 0) this.#o.onRecords(fresh)
  }

  async #readSeq (): Promise<number | undefined> {
    try {
      const { value } = await this.#client.get(this.#seqKey)
      if (value === null) return 0
      const seq = Number(value.toString('ascii').trim())
      return Number.isSafeInteger(seq) && seq >= 0 ? seq : undefined
    } catch (err) {
      this.#o.logger.debug({ reason: (err as Error).message }, 'purge counter unreadable')
      return undefined
    }
  }

  /** Pipelined gets (memjs writes each at once on the node's one connection): one round trip for the batch. */
  async #readRecords (numbers: readonly number[]): Promise<Map<number, BanRecord>> {
    const out = new Map<number, BanRecord>()
    await Promise.all(numbers.map(async (n) => {
      try {
        const { value } = await this.#client.get(this.#recordKey(n))
        if (value === null) return
        const record = parseBanRecord(JSON.parse(value.toString('utf8')))
        if (record !== undefined) out.set(n, record)
      } catch {}
    }))
    return out
  }

  #recordKey (n: number): string {
    return `${this.#o.prefix}purge:rec:${n}`
  }
}

function range (from: number, to: number): number[] {
  const out: number[] = []
  for (let n = from; n <= to; n++) out.push(n)
  return out
}
