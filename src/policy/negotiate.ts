/**
 * policy/negotiate: which stored representation a client gets, from its Accept-Encoding (RFC 9110 §12.5.3). Pure.
 *
 * The header is parsed by `negotiator` (q-values, `identity;q=0`, `*`), and the answer is kept per raw header value:
 * browsers send a handful of distinct values, so a hit on a compressed entry costs one Map lookup and a walk over at
 * most four codings, with no allocation.
 */
import Negotiator from 'negotiator'
import type { CodedBody, ContentCoding, StoredEntry } from '../core/entry.js'
import type { HeaderValue } from '../core/headers.js'

export type Acceptable = ContentCoding | 'identity'

/**
 * What corral offers, in its own order of preference where the client's q-values tie: brotli is the smallest for
 * text (bench section 8: 0.14 of identity for a 100 KiB page at quality 6, gzip 0.15), identity the largest.
 */
const OFFERED: readonly Acceptable[] = ['br', 'zstd', 'gzip', 'identity']

/** Distinct raw values remembered; past this the memo starts again (a client sending junk cannot grow it). */
const MEMO_MAX = 256
const memo = new Map<string, readonly Acceptable[]>()
const IDENTITY_ONLY: readonly Acceptable[] = ['identity']

/**
 * The codings this Accept-Encoding accepts, best first; identity is left out when the client refuses it
 * (`identity;q=0`, or `*;q=0` without identity). No header: identity alone, which every client can read (RFC 9110
 * §12.5.3 lets a server pick any coding then, but a client that sent none may not decode one).
 */
export function acceptedCodings (value: HeaderValue): readonly Acceptable[] {
  if (value === undefined) return IDENTITY_ONLY
  const raw = Array.isArray(value) ? value.join(', ') : value
  let accepted = memo.get(raw)
  if (accepted === undefined) {
    accepted = new Negotiator({ headers: { 'accept-encoding': raw } }).encodings(OFFERED, { preferred: OFFERED }) as Acceptable[]
    if (memo.size >= MEMO_MAX) memo.clear()
    memo.set(raw, accepted)
  }
  return accepted
}

/**
 * The representation for this client: the first accepted coding the entry holds. When the client accepts none of
 * them, not even identity, it gets identity anyway (RFC 9110 §12.5.3: a server may ignore the field rather than
 * answer 415/406; nginx and Varnish do the same): an unreadable page beats an error page.
 */
export function chooseBody (entry: StoredEntry, acceptEncoding: HeaderValue): StoredEntry | CodedBody {
  const encoded = entry.encoded
  if (encoded === undefined) return entry
  const accepted = acceptedCodings(acceptEncoding)
  for (let i = 0; i < accepted.length; i++) {
    const coding = accepted[i]
    if (coding === 'identity') return entry
    for (let j = 0; j < encoded.length; j++) if ((encoded[j] as CodedBody).coding === coding) return encoded[j] as CodedBody
  }
  return entry
}

/** The coding a chosen body carries, for the trace and metrics; null for identity. */
export function codingOf (body: StoredEntry | CodedBody): ContentCoding | null {
  return 'coding' in body ? body.coding : null
}
