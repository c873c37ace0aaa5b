/**
 * compress/codings: node:zlib for each content coding corral handles. The async calls run on libuv's thread pool, off
 * the event loop, so a fill's compression never holds up the hits being served meanwhile. [I/O]
 *
 * zstd exists in node:zlib from Node 22.15; on Node 20 it is simply not offered (runtimeCodings).
 */
import * as zlib from 'node:zlib'
import { promisify } from 'node:util'
import type { ContentCoding } from '../core/entry.js'

type Codec = (buf: Buffer, options: object) => Promise<Buffer>

interface ZstdZlib {
  zstdCompress?: (buf: Buffer, options: object, cb: (err: Error | null, out: Buffer) => void) => void
  zstdDecompress?: (buf: Buffer, options: object, cb: (err: Error | null, out: Buffer) => void) => void
  zstdDecompressSync?: (buf: Buffer, options: object) => Buffer
  constants: Record<string, number>
}
const z = zlib as unknown as ZstdZlib

/** Whether this runtime can make and read `coding`. */
export function hasCoding (coding: ContentCoding): boolean {
  return coding !== 'zstd' || (typeof z.zstdCompress === 'function' && typeof z.zstdDecompressSync === 'function')
}

const brotliCompress = promisify(zlib.brotliCompress) as Codec
const gzip = promisify(zlib.gzip) as Codec
const zstdCompress = typeof z.zstdCompress === 'function' ? promisify(z.zstdCompress) as Codec : null
const brotliDecompress = promisify(zlib.brotliDecompress) as Codec
const gunzip = promisify(zlib.gunzip) as Codec
const zstdDecompress = typeof z.zstdDecompress === 'function' ? promisify(z.zstdDecompress) as Codec : null

export interface Levels {
  readonly brotliQuality: number
  readonly gzipLevel: number
  readonly zstdLevel: number
}

export function encode (coding: ContentCoding, body: Buffer, levels: Levels): Promise<Buffer> {
  switch (coding) {
    case 'br':
      return brotliCompress(body, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: levels.brotliQuality,
          [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length
        }
      })
    case 'gzip':
      return gzip(body, { level: levels.gzipLevel })
    case 'zstd':
      if (zstdCompress === null) return Promise.reject(new Error('zstd is not available in this runtime'))
      return zstdCompress(body, { params: { [z.constants['ZSTD_c_compressionLevel'] ?? 100]: levels.zstdLevel } })
  }
}

/** Decodes `body`, refusing output past `maxBytes` (a small gzip can inflate to gigabytes). Rejects when damaged. */
export function decode (coding: ContentCoding, body: Buffer, maxBytes: number): Promise<Buffer> {
  const options = { maxOutputLength: Math.max(1, maxBytes) }
  switch (coding) {
    case 'br': return brotliDecompress(body, options)
    case 'gzip': return gunzip(body, options)
    case 'zstd':
      if (zstdDecompress === null) return Promise.reject(new Error('zstd is not available in this runtime'))
      return zstdDecompress(body, options)
  }
}
