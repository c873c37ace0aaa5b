/**
 * store/chunked-reads: which entries came out of memcached as chunks, so the answer can say so (Cache-Status
 * `detail=chunks`, the access line's `body`). Keyed by the entry's header list, which the tiered store's L1 copy
 * shares with the entry read (tiered.ts withOwnBody keeps it), and weakly, so nothing is held for it.
 */
import type { StoredEntry } from '../core/entry.js'

const READ_FROM_CHUNKS = new WeakSet<readonly string[]>()

export function noteChunkedRead (entry: StoredEntry): void {
  READ_FROM_CHUNKS.add(entry.headers)
}

/** Asked only of entries read from the shared tier, never on a memory hit. */
export function wasReadFromChunks (entry: StoredEntry): boolean {
  return READ_FROM_CHUNKS.has(entry.headers)
}
