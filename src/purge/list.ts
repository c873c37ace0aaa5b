/** GET /purges: the invalidation records in force, as an operator reads them. Pure. */
import type { BanRecord } from './bans.js'

/** One purge record as GET /purges lists it. */
export interface ListedRecord {
  readonly kind: 'url' | 'tag' | 'prefix'
  readonly value: string
  readonly host: string | null
  readonly mode: 'hard' | 'soft'
  readonly at: string
  readonly ageSeconds: number
}

export function listRecords (records: readonly BanRecord[], now: number): ListedRecord[] {
  return records.map((r) => ({
    kind: r.kind,
    value: r.value,
    host: r.host === '' ? null : r.host,
    mode: r.soft ? 'soft' : 'hard',
    at: new Date(r.at).toISOString(),
    ageSeconds: Math.max(0, Math.round((now - r.at) / 1000))
  }))
}
