/**
 * core/make-entry: building a StoredEntry from an origin response's parts. Below every stage, so the fill and
 * invalidation (HEAD freshening) both build entries one way without one reaching up into the other.
 */
import type { EntryDeadlines, StoredEntry } from './entry.js'
import { appendVia, firstValue, toFlatHeaders, type HeaderRecord } from './headers.js'

/** Headers corral sets itself on the way out; the origin's are dropped. */
export const REPLACED: ReadonlySet<string> = new Set(['age', 'content-length', 'x-cache', 'cache-status'])

/** What purges need stored with an entry (purge/fill-purge.ts): when its fill asked the origin, its tags. */
export interface EntryPurgeFields {
  readonly requestedAt: number
  readonly tags: readonly string[] | undefined
  /** Fields never stored: REPLACED, plus the tag headers when they are removed from responses. */
  readonly dropHeaders: ReadonlySet<string>
}

export function makeEntry (key: string, status: number, headers: HeaderRecord, body: Buffer, d: EntryDeadlines, purge?: EntryPurgeFields): StoredEntry {
  const flat = toFlatHeaders(headers, purge?.dropHeaders ?? REPLACED)
  flat.push('content-length', String(body.length))
  appendVia(flat)
  return {
    kind: 'entry',
    key,
    status,
    headers: flat,
    body,
    storedAt: d.storedAt,
    initialAgeSeconds: d.initialAgeSeconds,
    freshUntil: d.freshUntil,
    staleWhileRevalidateUntil: d.staleWhileRevalidateUntil,
    staleIfErrorUntil: d.staleIfErrorUntil,
    mustRevalidate: d.mustRevalidate,
    graceWindow: d.graceWindow,
    etag: firstValue(headers.etag),
    lastModified: firstValue(headers['last-modified']),
    requestedAt: purge?.requestedAt,
    tags: purge?.tags
  }
}

/**
 * What a fill asks of the purge records (purge/fill-purge.ts builds it when the config loads): the purge fields of a
 * new entry, and whether a purge issued while the fill was in flight removed it. Declared here so the fill, a stage,
 * is handed it without importing purge/, another stage.
 */
export interface FillPurgePort {
  fieldsOf: (headers: HeaderRecord, requestedAt: number, previous?: StoredEntry) => EntryPurgeFields
  screen: (entry: StoredEntry, ttlMs: number) => { entry: StoredEntry, ttlMs: number } | null
}
