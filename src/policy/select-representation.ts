/**
 * policy/select-representation: the representation a full-road delivery (conditional, Range, stale, miss, debug) writes, as an
 * entry deliver.ts can handle like any other. Pure.
 *
 * RFC 9110 §14: a Range is answered on the identity bytes, whatever the client accepts (as nginx and Squid do):
 * offsets into a br body would name bytes no other client could agree on. So when the Range applies to the identity
 * representation the client gets identity; otherwise its negotiated coding, with Range off for it.
 */
import type { CodedBody, StoredEntry } from '../core/entry.js'
import type { HeaderRecord } from '../core/headers.js'
import { decideRange, type StoredRepresentation } from './range.js'
import { chooseBody } from './negotiate.js'

export interface Selected {
  /** What to deliver: the entry itself (identity) or a view of it with a coded body, headers and entity-tag. */
  readonly entry: StoredEntry
  /** Identity: Range may apply. A coded view never takes a Range. */
  readonly identity: boolean
  readonly coding: CodedBody['coding'] | null
}

const views = new WeakMap<CodedBody, StoredEntry>()

/** `describe` is deliver.ts's reading of an entry for policy/range (passed in: policy sits below deliver). */
export function selectRepresentation (
  entry: StoredEntry, headers: HeaderRecord, method: string, now: number, describe: (entry: StoredEntry) => StoredRepresentation
): Selected {
  if (entry.encoded === undefined) return { entry, identity: true, coding: null }
  if (headers.range !== undefined && decideRange({ method, range: headers.range, ifRange: headers['if-range'] }, describe(entry), now).kind !== 'whole') {
    return { entry, identity: true, coding: null }
  }
  const chosen = chooseBody(entry, headers['accept-encoding'])
  if (chosen === entry) return { entry, identity: true, coding: null }
  const coded = chosen as CodedBody
  return { entry: viewOf(entry, coded), identity: false, coding: coded.coding }
}

/** The entry as one coding's representation; kept per coded body, so a run of stale answers makes it once. */
function viewOf (entry: StoredEntry, coded: CodedBody): StoredEntry {
  let view = views.get(coded)
  if (view === undefined) {
    view = { ...entry, headers: coded.headers, body: coded.body, etag: coded.etag, encoded: undefined }
    views.set(coded, view)
  }
  return view
}
