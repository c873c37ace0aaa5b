/**
 * fill-compress: the fill's compression step. A storable body, once read, becomes the identity bytes plus one body
 * per content coding (policy/compress.ts decides which), made off the event loop. [I/O: node:zlib's thread pool]
 */
import { performance } from 'node:perf_hooks'
import type { ContentCoding } from './core/entry.js'
import type { HeaderRecord } from './core/headers.js'
import type { Logger } from './core/log.js'
import type { RawCoded } from './core/coded-body.js'
import type { CompressMeter } from './core/compress-meter.js'
import { OriginEncodingError, type CorralError } from './core/errors.js'
import { decode, encode } from './compress/codings.js'
import { planBody, type BodyPlan, type CompressSettings } from './policy/compress.js'

export interface CompressContext {
  readonly settings: CompressSettings
  readonly meter: CompressMeter
  readonly logger: Logger
}

export type PreparedBody =
  /** Stored as the origin sent it, served the same to every client. */
  | { readonly kind: 'keep' }
  /** `identity` with `headers` (Content-Encoding removed) and the coded bodies, best first. */
  | { readonly kind: 'coded', readonly identity: Buffer, readonly headers: HeaderRecord, readonly coded: readonly RawCoded[] }
  /** The origin's coded body does not decode: never stored. */
  | { readonly kind: 'corrupt', readonly error: CorralError }

export const KEEP_BODY: PreparedBody = { kind: 'keep' }
const NONE: readonly RawCoded[] = Object.freeze([])

/** The order coded bodies are kept in: smallest first for text, so a debug listing reads best to worst. */
const ORDER: readonly ContentCoding[] = ['br', 'zstd', 'gzip']

/** `made`: codings of this same identity body made already (a fill streamed while coding, fill-stream-codings.ts). */
export async function prepareBody (
  ctx: CompressContext, headers: HeaderRecord, body: Buffer, maxObjectBytes: number, made: readonly RawCoded[] = NONE
): Promise<PreparedBody> {
  const plan = planBody(headers, body.length, ctx.settings)
  if (plan.kind === 'keep') return KEEP_BODY
  let identity = body
  const coded: RawCoded[] = []
  // Kept under the same rule as one made here (encodeOne): only when it shrinks.
  if (plan.kind === 'compress') for (const c of made) if (plan.codings.includes(c.coding) && c.body.length < body.length) coded.push(c)
  if (plan.kind === 'decode') {
    const decoded = await decodeOrigin(ctx, plan, body, maxObjectBytes)
    if (decoded === 'too-large') return KEEP_BODY
    if (decoded instanceof OriginEncodingError) return { kind: 'corrupt', error: decoded }
    identity = decoded
    coded.push({ coding: plan.from, body })
  }
  const fresh = await Promise.all(plan.codings.filter((coding) => !made.some((c) => c.coding === coding)).map((coding) => encodeOne(ctx, coding, identity)))
  for (const c of fresh) if (c !== null) coded.push(c)
  if (coded.length === 0) return KEEP_BODY
  coded.sort((a, b) => ORDER.indexOf(a.coding) - ORDER.indexOf(b.coding))
  return { kind: 'coded', identity, headers: withoutContentEncoding(headers), coded }
}

async function decodeOrigin (ctx: CompressContext, plan: Extract<BodyPlan, { kind: 'decode' }>, body: Buffer, maxBytes: number): Promise<Buffer | OriginEncodingError | 'too-large'> {
  const started = performance.now()
  try {
    const identity = await decode(plan.from, body, maxBytes)
    ctx.meter.decoded(plan.from, body.length, identity.length, (performance.now() - started) / 1000)
    return identity
  } catch (err) {
    // Past maxObjectBytes once decoded: a big page the origin compressed well, kept as the origin sent it (as before
    // corral compressed). Anything else is a damaged body, and nobody may be served a decode of it from the cache.
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return 'too-large'
    ctx.logger.warn({ err, coding: plan.from }, 'origin body does not decode: not stored')
    return new OriginEncodingError(plan.from, err)
  }
}

async function encodeOne (ctx: CompressContext, coding: ContentCoding, identity: Buffer): Promise<RawCoded | null> {
  const started = performance.now()
  try {
    const body = await encode(coding, identity, ctx.settings)
    ctx.meter.encoded(coding, identity.length, body.length, (performance.now() - started) / 1000)
    // A body that does not shrink (already compressed inside, like a data: URI heavy page) costs clients a decoder for nothing.
    return body.length < identity.length ? { coding, body } : null
  } catch (err) {
    ctx.logger.warn({ err, coding }, 'compression failed: stored without this coding')
    return null
  }
}

function withoutContentEncoding (headers: HeaderRecord): HeaderRecord {
  if (headers['content-encoding'] === undefined) return headers
  const { 'content-encoding': _ce, ...rest } = headers
  return rest
}
