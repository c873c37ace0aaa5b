/**
 * accept-encoding: Accept-Encoding (RFC 9110 §12.5.3) reduced to the codings an origin plausibly uses, in a fixed
 * order, so `Vary: Accept-Encoding` makes a handful of variants instead of one per browser's spelling. The origin is
 * sent this same value, so what it answers matches the variant it is stored under. Parsed by `negotiator` (the
 * parser Express and Koa use): the hand-written scan before read 8 characters after a coding's name, so
 * `gzip      ;q=0, identity` got the gzip it refused (issue 23). negotiator handles spacing, q-values, `*` and the
 * more specific entry winning over `*`.  [pure]
 */
import Negotiator from 'negotiator'
type HeaderValue = string | string[] | undefined

const CODINGS = ['br', 'gzip', 'zstd', 'deflate'] as const

export function normalizeAcceptEncoding (value: HeaderValue): string {
  if (value === undefined) return ''
  const text = Array.isArray(value) ? value.join(',') : value
  if (text === '') return ''
  // A variant hit normalises the client's value on every request, and browsers repeat theirs: once per change.
  if (text === lastText) return lastNormalized
  lastNormalized = foldAcceptEncoding(text)
  lastText = text
  return lastNormalized
}

let lastText: string | undefined
let lastNormalized = ''

function foldAcceptEncoding (text: string): string {
  const accepted = new Negotiator({ headers: { 'accept-encoding': text } }).encodings([...CODINGS])
  let out = ''
  for (const coding of CODINGS) {
    if (!accepted.includes(coding)) continue
    out = out === '' ? coding : `${out}, ${coding}`
  }
  return out
}
