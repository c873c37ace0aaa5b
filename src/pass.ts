/**
 * pass: stream an exchange through without storing it (uncacheable methods and responses, hit-for-pass URLs,
 * bodies over cache.maxObjectBytes). Bodies stream both ways; a client that goes away aborts the origin side.  [I/O]
 */
import type { ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { discard, type OriginResponse } from './fetch.js'
import type { XCache } from './metrics.js'
import { appendVia, toFlatHeaders } from './headers.js'

const REPLACED = new Set(['x-cache', 'cache-status'])

/** Write an origin response to the client as it arrives. `head` holds body bytes already read. */
export async function streamResponse (
  res: ServerResponse, response: OriginResponse, head: readonly Buffer[] | null, xCache: XCache, cacheStatus: string,
  isHead: boolean, extra: readonly string[] | null
): Promise<void> {
  const headers = toFlatHeaders(response.headers, REPLACED)
  appendVia(headers)
  headers.push('x-cache', xCache, 'cache-status', cacheStatus)
  if (extra !== null) for (const h of extra) headers.push(h)
  res.writeHead(response.status, headers)
  if (isHead) {
    discard(response.body)
    res.end()
    return
  }
  if (head !== null) for (const chunk of head) res.write(chunk)
  try {
    await pipeline(response.body, res)
  } catch {
    // The origin broke off mid-body, or the client left: the response cannot be completed honestly.
    res.destroy()
    response.body.destroy()
  }
}
