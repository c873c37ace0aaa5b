/**
 * purge/seen: which cache keys and tags this proxy has stored lately, so a purge can say whether it named anything
 * this proxy has seen. An unknown tag used to answer exactly like a real one (issue 26, friction 4): a typo in a CMS
 * hook went unnoticed. memcached cannot list keys by tag or prefix, so this is what this proxy's own fills stored:
 * the latest MAX_NAMES keys and tags, noted at store time (a miss), never on a hit.  [pure]
 */
import type { StoredEntry } from '../core/entry.js'

/** Keys (and, apart, tags) remembered: about 100 bytes each, so about 1 MB at most for each. */
const MAX_NAMES = 10_000

export class SeenNames {
  readonly #keys = new Set<string>()
  readonly #tags = new Set<string>()

  /** A fill stored this entry: remember its primary key and tags, newest last. */
  note (entry: StoredEntry): void {
    const end = entry.key.indexOf('\n')
    remember(this.#keys, end === -1 ? entry.key : entry.key.slice(0, end))
    if (entry.tags !== undefined) for (const tag of entry.tags) remember(this.#tags, tag)
  }

  /** Whether any of the records (bans.ts BanRecord, by shape: bans.ts holds this) names a key or tag stored here lately. */
  matches (records: ReadonlyArray<{ readonly kind: 'url' | 'tag' | 'prefix', readonly value: string }>): boolean {
    return records.some((record) => {
      switch (record.kind) {
        case 'url': return this.#keys.has(record.value)
        case 'tag': return this.#tags.has(record.value)
        case 'prefix': {
          for (const key of this.#keys) if (key.startsWith(record.value)) return true
          return false
        }
      }
      return false
    })
  }

  /** What `matches` looked at, for the answer: a person must know it is not the whole fleet's cache. */
  static readonly SCOPE = `pages stored through this proxy since it started (its latest ${MAX_NAMES} keys and ${MAX_NAMES} tags)`
}

function remember (set: Set<string>, name: string): void {
  // Deleted first so a name seen again moves to the newest end; the oldest goes when the set is full.
  set.delete(name)
  set.add(name)
  if (set.size > MAX_NAMES) set.delete(set.values().next().value as string)
}
