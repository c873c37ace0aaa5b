import { brotliCompressSync, gzipSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { prepareBody, type CompressContext } from '../src/fill-compress.js'
import type { CompressMeter } from '../src/core/compress-meter.js'
import { makeTypeMatcher } from '../src/policy/compress.js'
import { makePage } from '../bench/page.js'

const PAGE = makePage(50_000)

function context (): { ctx: CompressContext, calls: Array<[string, string, number, number]> } {
  const calls: Array<[string, string, number, number]> = []
  const meter: CompressMeter = {
    encoded: (coding, inBytes, outBytes) => { calls.push(['encode', coding, inBytes, outBytes]) },
    decoded: (coding, inBytes, outBytes) => { calls.push(['decode', coding, inBytes, outBytes]) }
  }
  const settings = { codings: ['br', 'gzip'] as const, isCompressibleType: makeTypeMatcher(['text/*']), minBytes: 1400, maxBytes: 1_000_000, brotliQuality: 6, gzipLevel: 6, zstdLevel: 3 }
  return { ctx: { settings: { ...settings, codings: [...settings.codings] }, meter, logger: pino({ level: 'silent' }) }, calls }
}

describe('prepareBody: the fill\'s compression, with real zlib', () => {
  it('makes br then gzip from an identity page, and meters both', async () => {
    const { ctx, calls } = context()
    const out = await prepareBody(ctx, { 'content-type': 'text/html' }, PAGE, 1_000_000)
    if (out.kind !== 'coded') throw new Error(`expected coded, got ${out.kind}`)
    expect(out.identity).toBe(PAGE)
    expect(out.coded.map((c) => c.coding)).toEqual(['br', 'gzip'])
    expect(calls.map(([op, coding, inBytes]) => [op, coding, inBytes]).sort()).toEqual([['encode', 'br', PAGE.length], ['encode', 'gzip', PAGE.length]])
  })

  it('keeps the origin\'s gzip byte for byte, decodes it once, and makes br from the identity', async () => {
    const { ctx, calls } = context()
    const gz = gzipSync(PAGE)
    const out = await prepareBody(ctx, { 'content-type': 'text/html', 'content-encoding': 'gzip', etag: '"o"' }, gz, 1_000_000)
    if (out.kind !== 'coded') throw new Error(`expected coded, got ${out.kind}`)
    expect(out.identity.equals(PAGE)).toBe(true)
    expect(out.headers['content-encoding']).toBeUndefined()
    expect(out.headers.etag).toBe('"o"')
    expect(out.coded.find((c) => c.coding === 'gzip')?.body).toBe(gz)
    expect(calls.filter(([op]) => op === 'encode').map(([, coding]) => coding)).toEqual(['br'])
  })

  it('a damaged coded body is refused with CORRAL_ERR_ORIGIN_ENCODING', async () => {
    const { ctx } = context()
    const br = brotliCompressSync(PAGE)
    br.fill(0x00, 10, 200)
    const out = await prepareBody(ctx, { 'content-type': 'text/html', 'content-encoding': 'br' }, br, 1_000_000)
    expect(out.kind).toBe('corrupt')
    expect(out.kind === 'corrupt' && out.error.code).toBe('CORRAL_ERR_ORIGIN_ENCODING')
  })

  it('an origin\'s gzip that inflates past cache.maxObjectBytes is kept as it came, not refused', async () => {
    const { ctx } = context()
    const out = await prepareBody(ctx, { 'content-type': 'text/html', 'content-encoding': 'gzip' }, gzipSync(Buffer.alloc(2_000_000, 'a')), 1_000_000)
    expect(out.kind).toBe('keep')
  })

  it('a coding that does not shrink the body is dropped; with none left the body is kept as it is', async () => {
    const { ctx } = context()
    const noise = randomBytes(20_000)
    expect((await prepareBody(ctx, { 'content-type': 'text/plain' }, noise, 1_000_000)).kind).toBe('keep')
  })
})

describe('prepareBody with codings streamed already (fill-stream-codings.ts)', () => {
  it('keeps a streamed coding as it is and makes only the others', async () => {
    const { ctx, calls } = context()
    const streamedGzip = gzipSync(PAGE)
    const out = await prepareBody(ctx, { 'content-type': 'text/html' }, PAGE, 1_000_000, [{ coding: 'gzip', body: streamedGzip }])
    if (out.kind !== 'coded') throw new Error(`expected coded, got ${out.kind}`)
    expect(out.coded.map((c) => c.coding)).toEqual(['br', 'gzip'])
    expect(out.coded.find((c) => c.coding === 'gzip')?.body).toBe(streamedGzip)
    expect(calls.map(([op, coding]) => [op, coding])).toEqual([['encode', 'br']])
  })

  it('a streamed coding that did not shrink the body is not stored', async () => {
    const { ctx } = context()
    const out = await prepareBody(ctx, { 'content-type': 'text/html' }, PAGE, 1_000_000, [{ coding: 'gzip', body: Buffer.alloc(PAGE.length + 10) }])
    if (out.kind !== 'coded') throw new Error(`expected coded, got ${out.kind}`)
    expect(out.coded.map((c) => c.coding)).toEqual(['br'])
  })
})
