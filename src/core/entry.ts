/**
 * The cached entry's shape: what policy/ decides and store/ keeps. Both import it from here, so the pure decisions do
 * not depend on the storage layer. Every HTTP decision was made before a record is stored (policy/storable.ts) and is
 * carried inside it as numbers, so a read compares deadlines and never re-parses headers.
 */

/** When a stored response is fresh, may be served stale, or may stand in for an error: numbers a hit compares. */
export interface EntryDeadlines {
  /** Epoch ms when the response arrived from the origin (or was last revalidated). */
  readonly storedAt: number
  /** Seconds of age the response already had on arrival (RFC 9111 §4.2.3 corrected initial age). */
  readonly initialAgeSeconds: number
  /** Epoch ms: fresh before this instant. */
  readonly freshUntil: number
  /** Epoch ms: after freshUntil and before this, serve stale while one request refreshes (RFC 5861 §3, grace). */
  readonly staleWhileRevalidateUntil: number
  /** Epoch ms: before this, a stale copy may answer when the origin fails (RFC 5861 §4). */
  readonly staleIfErrorUntil: number
  /** must-revalidate / proxy-revalidate / no-cache: never served stale without the origin's word. */
  readonly mustRevalidate: boolean
  /**
   * The stale-while-revalidate window is the operator's cache.graceSeconds, not the origin's stale-while-revalidate:
   * such an answer says `detail=grace`. Absent (not false) otherwise, so an entry costs no byte for it in memcached.
   */
  readonly graceWindow?: true | undefined
}

/** A cached response, ready to write: `headers` go to `res.writeHead` as they are. */
export interface StoredEntry extends EntryDeadlines {
  readonly kind: 'entry'
  /** The full cache key (primary key + variant). Stores check it on read so a hash collision is a miss. */
  readonly key: string
  readonly status: number
  /** Flat `[name, value, name, value, …]`, lower-case names, hop-by-hop and `age` already removed. */
  readonly headers: readonly string[]
  readonly body: Buffer
  readonly etag: string | undefined
  readonly lastModified: string | undefined
  /**
   * Epoch ms when the fill that made this entry asked the origin (purge/bans.ts: an invalidation record made after
   * it purges the entry, also when the answer arrived later). Absent on entries from before purges existed: storedAt.
   */
  readonly requestedAt?: number | undefined
  /** The origin's cache tags (Surrogate-Key, Cache-Tag; purge/tags.ts), parsed once at store time. Absent: none. */
  readonly tags?: readonly string[] | undefined
  /**
   * The same response in content codings (fill-compress.ts), made once when it was filled; `body` and `headers` above are
   * always the identity representation. Each is a plain byte body with its own ready-to-write headers, best first.
   * Absent: the entry is served as it is to every client (not compressible, or compression is off).
   */
  readonly encoded?: readonly CodedBody[] | undefined
}

/** A content coding corral makes or serves (RFC 9110 §8.4.1); zstd only where node:zlib has it (Node 22.15+). */
export type ContentCoding = 'br' | 'gzip' | 'zstd'

/** One coded representation of a stored entry: what a client accepting `coding` gets. */
export interface CodedBody {
  readonly coding: ContentCoding
  readonly body: Buffer
  /** Ready to write: the identity headers with this coding's Content-Encoding, Content-Length and ETag. */
  readonly headers: readonly string[]
  /** This representation's own entity-tag (the identity one with a suffix, weak), so a 304 never mixes codings. */
  readonly etag: string | undefined
}

/**
 * Stored under a URL's primary key when the origin answered with `Vary`: says which request headers pick the
 * variant. `epoch` is part of every variant key, so a purge (which deletes this index) orphans all variants at
 * once without having to enumerate them in memcached.
 */
export interface VaryIndex {
  readonly kind: 'vary'
  readonly key: string
  /** Lower-case request header names, in the order the origin listed them. */
  readonly varyHeaders: readonly string[]
  readonly epoch: string
  readonly storedAt: number
}

export type CacheRecord = StoredEntry | VaryIndex
