/**
 * deliver-growing-coded: which representation of a streaming fill a client reads (fill-stream-codings.ts): the first
 * coding it accepts that the fill makes on the fly, as a hit on the stored entry would choose (policy/negotiate.ts),
 * or identity. The caller has already sent a Range that applies to the identity bytes there (RFC 9110 §14,
 * https://www.rfc-editor.org/rfc/rfc9110#section-14), as policy/select-representation.ts does for a stored entry.
 */
import type { ContentCoding } from './core/entry.js'
import type { HeaderValue } from './core/headers.js'
import { acceptedCodings } from './policy/negotiate.js'

/** What a streaming fill offers (origin/growing-fill.ts StreamCodings), read structurally: this sits below it. */
interface Offered<S> {
  readonly codings: readonly ContentCoding[]
  open (coding: ContentCoding): S | null
}

/** The coded stream this client takes, with its coding, or null for identity. */
export function pickCodedStream<S> (offered: Offered<S> | undefined, acceptEncoding: HeaderValue): { readonly stream: S, readonly coding: ContentCoding } | null {
  if (offered === undefined) return null
  for (const coding of acceptedCodings(acceptEncoding)) {
    if (coding === 'identity') return null
    if (!offered.codings.includes(coding)) continue
    const stream = offered.open(coding)
    if (stream !== null) return { stream, coding }
  }
  return null
}
