/**
 * policy/omit: a response's headers without the fields its store verdict says never to store (omitFields: qualified
 * no-cache / private, Connection-listed; RFC 9111 §3.1, §5.2.2.4, §5.2.2.7). Pure. Without this, a response that is
 * storable only because `no-cache="set-cookie"` withholds its cookie would be stored with the cookie.
 */
import type { HeaderRecord } from '../core/headers.js'

export function withoutFields (headers: HeaderRecord, omitFields: readonly string[]): HeaderRecord {
  if (omitFields.length === 0) return headers
  const out: HeaderRecord = { ...headers }
  for (const name of omitFields) delete out[name]
  return out
}
