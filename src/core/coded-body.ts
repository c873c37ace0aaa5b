/**
 * core/coded-body: the headers of each representation of one stored response, made when the entry is built (a fill,
 * a 304 refresh, a HEAD freshening) or read from memcached. Pure.
 *
 * Every representation says `Vary: Accept-Encoding` (RFC 9110 §12.5.5), identity included, so a cache further down
 * keys them apart. Each coded one gets its own entity-tag: the identity tag, weak, with the coding as a suffix
 * (`"v1"` → `W/"v1-br"`), so a 304 (weak comparison, RFC 9110 §13.1.2) never confirms a client's gzip copy with a
 * br answer, and If-Range (strong comparison only, §13.1.5) never matches a coded body: a Range is answered on
 * identity bytes alone (policy/select-representation.ts). nginx weakens the tag when it gzips; the suffix also keeps
 * codings apart.
 */
import type { CodedBody, ContentCoding, StoredEntry } from './entry.js'

/** A coded body as the fill makes it (or an origin sent it), before it has headers. */
export interface RawCoded {
  readonly coding: ContentCoding
  readonly body: Buffer
}

/** `"x"` or `W/"x"` → `W/"x-coding"`; undefined when there is no tag or it is not a quoted one. */
export function codedEtag (etag: string | undefined, coding: ContentCoding): string | undefined {
  if (etag === undefined) return undefined
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag
  if (opaque.length < 2 || !opaque.startsWith('"') || !opaque.endsWith('"')) return undefined
  return `W/${opaque.slice(0, -1)}-${coding}"`
}

/** Adds accept-encoding to the flat list's Vary (or a Vary of its own), in place; nothing when already named. */
export function addVaryAcceptEncoding (flat: string[]): void {
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] !== 'vary') continue
    const value = flat[i + 1] as string
    if (value.trim() === '*' || value.split(',').some((name) => name.trim().toLowerCase() === 'accept-encoding')) return
    flat[i + 1] = `${value}, Accept-Encoding`
    return
  }
  flat.push('vary', 'Accept-Encoding')
}

/**
 * A coded representation from the identity headers (ready to write, Vary already naming Accept-Encoding): the same
 * fields with this body's Content-Encoding, Content-Length and ETag.
 */
export function makeCodedBody (identityHeaders: readonly string[], identityEtag: string | undefined, coding: ContentCoding, body: Buffer): CodedBody {
  const etag = codedEtag(identityEtag, coding)
  const headers: string[] = []
  for (let i = 0; i < identityHeaders.length; i += 2) {
    const name = identityHeaders[i] as string
    if (name === 'content-length' || name === 'etag' || name === 'content-encoding') continue
    headers.push(name, identityHeaders[i + 1] as string)
  }
  headers.push('content-encoding', coding, 'content-length', String(body.length))
  if (etag !== undefined) headers.push('etag', etag)
  return { coding, body, headers, etag }
}

/**
 * The entry's `encoded` list over its identity headers `flat`, which gain `Vary: Accept-Encoding` (in place, before
 * the list is copied for each coding). Undefined, with `flat` untouched, when there is nothing coded.
 */
export function withCodedBodies (flat: string[], etag: string | undefined, coded: readonly RawCoded[] | undefined): readonly CodedBody[] | undefined {
  if (coded === undefined || coded.length === 0) return undefined
  addVaryAcceptEncoding(flat)
  return coded.map((c) => makeCodedBody(flat, etag, c.coding, c.body))
}

/** The raw coded bodies of an entry, to carry into its refreshed copy (a 304 changes headers, never bytes). */
export function codedBodiesOf (entry: StoredEntry): readonly RawCoded[] | undefined {
  return entry.encoded
}
