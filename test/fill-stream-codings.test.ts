/**
 * fill-stream-codings without sockets: what a compressible streaming fill offers its clients (heads a later hit would
 * match, one compressor per coding, started by its first client) and which streamed codings the store may keep.
 */
import { gunzipSync } from 'node:zlib'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { makeStreamCodings } from '../src/fill-stream-codings.js'
import type { CompressContext } from '../src/fill-compress.js'
import type { CompressMeter } from '../src/core/compress-meter.js'
import { makeEntry } from '../src/core/make-entry.js'
import { makeTypeMatcher } from '../src/policy/compress.js'
import { GrowingBody } from '../src/origin/growing-body.js'
import { withDeclaredLength, type GrowingFill } from '../src/origin/growing-fill.js'
import { makePage } from '../bench/page.js'

const PAGE = makePage(128 * 1024)
const DEADLINES = { storedAt: 0, initialAgeSeconds: 0, freshUntil: 60_000, staleWhileRevalidateUntil: 60_000, staleIfErrorUntil: 60_000, mustRevalidate: false }

function context (codings: Array<'br' | 'gzip' | 'zstd'> = ['br', 'gzip', 'zstd']): { ctx: CompressContext, encoded: string[] } {
  const encoded: string[] = []
  const meter: CompressMeter = { encoded: (coding) => { encoded.push(coding) }, decoded: () => {} }
  const settings = { codings, isCompressibleType: makeTypeMatcher(['text/*']), minBytes: 1400, maxBytes: 1_000_000, brotliQuality: 6, gzipLevel: 6, zstdLevel: 3 }
  return { ctx: { settings, meter, logger: pino({ level: 'silent' }) }, encoded }
}

function announced (ctx: CompressContext): { fill: GrowingFill, source: GrowingBody, made: () => Promise<readonly unknown[]> } {
  const empty = Buffer.alloc(0)
  const head = withDeclaredLength(makeEntry('k', 200, { 'content-type': 'text/html', etag: '"v1"' }, empty, DEADLINES), PAGE.length, empty)
  const source = new GrowingBody(PAGE.length)
  let fill: GrowingFill | null = null
  const codings = makeStreamCodings((g) => { fill = g }, ctx)
  codings.announce({ head, vary: null, body: source, originMs: 1, stored: true })
  if (fill === null) throw new Error('not announced')
  return { fill, source, made: codings.made }
}

function field (flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1]
  return undefined
}

describe('a compressible fill streamed in its codings', () => {
  it('identity says Vary: Accept-Encoding; a coded head has its coding and weak tag, and no length', () => {
    const { fill } = announced(context().ctx)
    expect(field(fill.head.headers, 'vary')).toBe('Accept-Encoding')
    expect(field(fill.head.headers, 'content-length')).toBe(String(PAGE.length))
    expect(fill.head.etag).toBe('"v1"')
    // zstd has no stream in node:zlib on Node 20: not offered on the fly.
    expect(fill.coded?.codings).toEqual(['br', 'gzip'])
    const gzip = fill.coded?.open('gzip')
    expect(field(gzip?.head.headers ?? [], 'content-encoding')).toBe('gzip')
    expect(field(gzip?.head.headers ?? [], 'content-length')).toBeUndefined()
    expect(field(gzip?.head.headers ?? [], 'vary')).toBe('Accept-Encoding')
    expect(gzip?.head.etag).toBe('W/"v1-gzip"')
    expect(field(gzip?.head.headers ?? [], 'etag')).toBe('W/"v1-gzip"')
    expect(fill.coded?.open('zstd')).toBeNull()
  })

  it('one compressor per coding, started by its first client; none for a coding nobody took', async () => {
    const { ctx, encoded } = context()
    const { fill, source, made } = announced(ctx)
    const first = fill.coded?.open('gzip')
    expect(fill.coded?.open('gzip')).toBe(first)
    source.append(PAGE)
    source.end()
    const kept = await made()
    expect(encoded).toEqual(['gzip'])
    // One flush for the whole body: stored as it streamed.
    expect(kept).toHaveLength(1)
    expect(gunzipSync((kept[0] as { body: Buffer }).body).equals(PAGE)).toBe(true)
  })

  it('a coding cut by many small flushes is not kept: the store makes it anew', async () => {
    const { ctx } = context()
    const { fill, source, made } = announced(ctx)
    const gzip = fill.coded?.open('gzip')
    if (gzip === null || gzip === undefined) throw new Error('no gzip stream')
    const body = gzip.body as GrowingBody
    for (let at = 0; at < PAGE.length; at += 4096) {
      source.append(PAGE.subarray(at, at + 4096))
      // Each piece is coded before the next arrives, as when an origin drips small reads.
      await body.whenFilled(body.filled + 1)
    }
    source.end()
    expect(await made()).toHaveLength(0)
  })

  it('a fill nobody took a coding of offers nothing for storing', async () => {
    const { fill, source, made } = announced(context().ctx)
    expect(fill.coded).toBeDefined()
    source.append(PAGE)
    source.end()
    expect(await made()).toHaveLength(0)
  })
})
