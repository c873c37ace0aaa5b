/**
 * compress/entry-bodies: a stored entry's coded bodies, made from the fill's raw ones and carried across a
 * revalidation. Pure.
 */
import type { CodedBody, StoredEntry } from '../core/entry.js'
import type { RawCoded } from './fill-body.js'
import { addVaryAcceptEncoding, makeCodedBody } from './represent.js'

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

/**
 * The origin's Vary names without Accept-Encoding: an entry corral negotiates itself serves every Accept-Encoding
 * from one copy, so keying it by the client's value would store the same page once per browser family.
 */
export function withoutAcceptEncoding (names: string[] | null): string[] | null {
  if (names === null || !names.includes('accept-encoding')) return names
  const rest = names.filter((n) => n !== 'accept-encoding')
  return rest.length === 0 ? null : rest
}
