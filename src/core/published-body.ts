/**
 * core/published-body: a body a streaming fill is writing to memcached as chunks while it arrives, found again by the
 * store when the fill's entry is stored, so the stored head commits those chunks instead of writing the body a second
 * time (store/chunks.ts commit). The fleet publisher (coalesce/fleet-publish.ts) notes its work on the growing body,
 * the fill carries it to the whole body (origin/growing-fill.ts), and the memcached store asks for it by the entry's
 * body. Weak on both: nothing is kept alive for it, and an entry whose body is no longer that buffer (a copy, a coded
 * body) finds nothing and is written whole, as before.
 */

/** Chunks written for a whole body, named as a committed chunk head names them (store/chunk-codec.ts). */
export interface PublishedBody {
  /** The cache key the chunks were written beside (the lease's key): their node, and their item keys' base. */
  readonly key: string
  readonly version: string
  readonly chunkBytes: number
  readonly bodyBytes: number
  /** CRC-32 of the body, of the bytes the chunks hold, computed as they were written. */
  readonly crc: number
}

/** Resolves to what was written, or null when not every chunk was (a failed write, a failed body): never rejects. */
export type Publishing = Promise<PublishedBody | null>

const PUBLISHING = new WeakMap<object, Publishing>()

/** `holder` (a growing body, then its whole buffer) is being published as `publishing` says. */
export function notePublishing (holder: object, publishing: Publishing): void {
  PUBLISHING.set(holder, publishing)
}

/** What `from` was noted with now holds for `to` too (the growing body's whole buffer). */
export function carryPublishing (from: object, to: object): void {
  const publishing = PUBLISHING.get(from)
  if (publishing !== undefined) PUBLISHING.set(to, publishing)
}

export function publishingOf (holder: object): Publishing | undefined {
  return PUBLISHING.get(holder)
}
