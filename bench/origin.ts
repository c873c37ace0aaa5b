/**
 * The benchmark origin: a node:http server that counts every request and answers after `delayMs`, like a page
 * rendered from a database. It runs inside the runner: it is idle except on misses, so it does not compete with the
 * load generator. The path picks the page:
 *   /page…     the 1 KB PAGE, `public, max-age=3600`   (throughput: every request after the first is a hit)
 *   /expire…   the 1 KB PAGE, `max-age=1`             (expiry under load; the default graceSeconds applies)
 *   /nostore…  the 1 KB PAGE, `no-store`              (uncacheable burst)
 *   /big…      a 4 KB page, `public, max-age=3600`    (memory: many distinct keys)
 *   anything else: the 1 KB PAGE, `public, max-age=3600` (e.g. /cold/<id> for the stampede)
 * This module imports nothing heavy: bench/ceiling.ts takes PAGE and the headers from here.
 */
import { createServer, type Server } from 'node:http'
import { pathToFileURL } from 'node:url'

/** The 1 KB page every throughput benchmark serves. */
export const PAGE = Buffer.alloc(1024, 'corral benchmark page. ')
/** The 4 KB page of the memory section. */
export const BIG_PAGE = Buffer.alloc(4096, 'corral big benchmark page. ')

/** The headers the origin sends with PAGE; corral stores them and adds age, x-cache and cache-status on a hit. */
export function pageHeaders (cacheControl: string, length: number): string[] {
  return ['cache-control', cacheControl, 'content-type', 'text/html; charset=utf-8', 'etag', '"bench"', 'content-length', String(length)]
}

export interface BenchOrigin {
  readonly url: string
  /** Requests received since start or the last reset (counted on arrival, before the delay). */
  requests (): number
  reset (): void
  /** Change the per-request delay, ms. */
  setDelay (ms: number): void
  close (): Promise<void>
}

function answerFor (path: string): { cacheControl: string, body: Buffer } {
  if (path.startsWith('/expire')) return { cacheControl: 'max-age=1', body: PAGE }
  if (path.startsWith('/nostore')) return { cacheControl: 'no-store', body: PAGE }
  if (path.startsWith('/big')) return { cacheControl: 'public, max-age=3600', body: BIG_PAGE }
  return { cacheControl: 'public, max-age=3600', body: PAGE }
}

export async function startOrigin (delayMs = 200, port = 0): Promise<BenchOrigin> {
  let count = 0
  let delay = delayMs
  const server: Server = createServer((req, res) => {
    count++
    const { cacheControl, body } = answerFor(req.url ?? '/')
    const send = (): void => {
      res.writeHead(200, pageHeaders(cacheControl, body.length))
      res.end(body)
    }
    if (delay > 0) setTimeout(send, delay)
    else send()
  })
  server.keepAliveTimeout = 30_000
  const listening = await listenLoopback(server, port)
  const actual = listening.port
  return {
    url: `http://127.0.0.1:${actual}`,
    requests: () => count,
    reset: () => { count = 0 },
    setDelay: (ms) => { delay = ms },
    close: listening.close
  }
}

// Runnable on its own: node --import tsx bench/origin.ts [port] [delayMs]
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const origin = await startOrigin(Number(process.argv[3] ?? 200), Number(process.argv[2] ?? 0))
  process.stdout.write(`bench origin on ${origin.url}; Ctrl-C to stop\n`)
  setInterval(() => { process.stdout.write(`origin requests: ${origin.requests()}\n`) }, 5000).unref()
}

/** Listen on 127.0.0.1 (port 0: a free one) and hand back the port and a close that drops open connections. */
export async function listenLoopback (server: import('node:http').Server, port = 0): Promise<{ port: number, close: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    close: async () => await new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => { resolve() })
    })
  }
}
