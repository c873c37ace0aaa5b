/**
 * compress/stream-coding without sockets: a GrowingBody fed by hand, its coded stream read as it is made. Each batch is
 * flushed, so what has been coded so far decodes to what the origin has sent so far.
 */
import { brotliDecompressSync, constants, gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { GrowingBody } from '../../src/origin/growing-body.js'
import { startStreamCoding } from '../../src/compress/stream-coding.js'
import { makePage } from '../../bench/page.js'

const LEVELS = { brotliQuality: 6, gzipLevel: 6, zstdLevel: 3 }
const PAGE = makePage(200 * 1024)

function decodeSoFar (coding: 'gzip' | 'br', bytes: Buffer): Buffer {
  return coding === 'gzip'
    ? gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH })
    : brotliDecompressSync(bytes, { finishFlush: constants.BROTLI_OPERATION_FLUSH })
}

/** The coded bytes made so far (the output body is unsized: its buffer holds [0, filled)). */
function codedSoFar (out: GrowingBody): Buffer {
  return out.buffer.subarray(0, out.filled)
}

/** Waits until the coded output decodes to at least `bytes` of identity (bounded by the output ending or failing). */
async function untilDecodes (coding: 'gzip' | 'br', out: GrowingBody, bytes: number): Promise<Buffer> {
  for (;;) {
    const text = out.filled === 0 ? Buffer.alloc(0) : decodeSoFar(coding, codedSoFar(out))
    if (text.length >= bytes || out.state !== 'open') return text
    await out.whenFilled(out.filled + 1)
  }
}

describe('a coding made while the body arrives', () => {
  for (const coding of ['gzip', 'br'] as const) {
    it(`${coding}: each batch decodes before the next arrives, and the whole stream decodes to the body`, async () => {
      const source = new GrowingBody(PAGE.length)
      const { body: out, ended } = startStreamCoding(source, coding, LEVELS, PAGE.length * 2)
      const third = Math.floor(PAGE.length / 3)
      for (const [from, to] of [[0, third], [third, 2 * third]] as const) {
        source.append(PAGE.subarray(from, to))
        const text = await untilDecodes(coding, out, to)
        expect(text.equals(PAGE.subarray(0, to))).toBe(true)
      }
      expect(out.state).toBe('open')
      source.append(PAGE.subarray(2 * third))
      expect(source.end()).toBe(true)
      const done = await ended
      expect(out.state).toBe('complete')
      const whole = out.whole()
      expect((coding === 'gzip' ? gunzipSync(whole) : brotliDecompressSync(whole)).equals(PAGE)).toBe(true)
      expect(done?.inBytes).toBe(PAGE.length)
      expect(done?.outBytes).toBe(whole.length)
      expect(done?.flushes).toBe(3)
      expect(whole.length).toBeLessThan(0.3 * PAGE.length)
    })
  }

  it('a late start catches up from the bytes kept so far', async () => {
    const source = new GrowingBody(PAGE.length)
    source.append(PAGE.subarray(0, 100_000))
    const { body: out } = startStreamCoding(source, 'gzip', LEVELS, PAGE.length * 2)
    const text = await untilDecodes('gzip', out, 100_000)
    expect(text.equals(PAGE.subarray(0, 100_000))).toBe(true)
  })

  it('fails with the identity body: its readers are cut off, nothing is offered for storing', async () => {
    const source = new GrowingBody(PAGE.length)
    const { body: out, ended } = startStreamCoding(source, 'gzip', LEVELS, PAGE.length * 2)
    source.append(PAGE.subarray(0, 50_000))
    await untilDecodes('gzip', out, 50_000)
    source.fail(new Error('origin closed'))
    expect(await ended).toBeNull()
    expect(out.state).toBe('failed')
    expect(out.canJoin(0)).toBe(false)
  })

  it('fails when an unsized identity body is relayed past its buffer (nothing left to code from)', async () => {
    const source = new GrowingBody(null, 64 * 1024)
    const { body: out, ended } = startStreamCoding(source, 'gzip', LEVELS, 256 * 1024)
    source.append(PAGE.subarray(0, 100 * 1024))
    expect(await ended).toBeNull()
    expect(out.state).toBe('failed')
  })

  it('output past its bound is relayed to readers already there, and no new reader joins', async () => {
    // Incompressible bytes into a bound smaller than them: the coded stream passes its buffer.
    const noise = Buffer.alloc(96 * 1024)
    for (let i = 0, s = 7; i < noise.length; i++) noise[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24
    const source = new GrowingBody(noise.length)
    const { body: out, ended } = startStreamCoding(source, 'gzip', LEVELS, 32 * 1024)
    expect(out.canJoin(0)).toBe(true)
    source.append(noise)
    source.end()
    await ended
    expect(out.overflowed).toBe(true)
    expect(out.canJoin(0)).toBe(false)
  })
})
