/** Clients for the compression tests: raw wire bytes (undici's request() never decodes) and what a decoder makes of them. */
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { request } from 'undici'
import { expect } from 'vitest'
import type { OriginHandler } from './origin.js'
import { manyConnections } from './proxy.js'
import { makePage } from '../../bench/page.js'

/** A 100 KiB HTML page that compresses like a real one. */
export const PAGE = makePage(100 * 1024)

export interface Raw { status: number, headers: Record<string, string>, body: Buffer }

export async function fetchRaw (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  const res = await request(url, { method: method as 'GET', headers, dispatcher: manyConnections })
  const body = Buffer.from(await res.body.arrayBuffer())
  const flat: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers)) flat[k] = Array.isArray(v) ? v.join(', ') : (v ?? '')
  return { status: res.statusCode, headers: flat, body }
}

/** What a client decoding Content-Encoding ends up with. */
export function decoded (r: Raw): Buffer {
  const ce = r.headers['content-encoding']
  if (ce === 'br') return brotliDecompressSync(r.body)
  if (ce === 'gzip') return gunzipSync(r.body)
  expect(ce).toBeUndefined()
  return r.body
}

/** The origin's answer: PAGE (or `body`) as cacheable HTML with ETag "v1", plus `headers`. */
export function page (headers: Record<string, string> = {}, body: Buffer = PAGE): OriginHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=60', etag: '"v1"', ...headers })
    res.end(body)
  }
}
