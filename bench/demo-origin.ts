import { createServer, type Server } from 'node:http'
import { listenLoopback } from './origin.js'
import { pathToFileURL } from 'node:url'

export interface DemoOrigin {
  readonly url: string
  readonly port: number
  /** Requests the origin has answered (or begun to answer) since start or the last reset. */
  requests (): number
  reset (): void
  close (): Promise<void>
}

const FRONT_PAGE = 'public, max-age=2, stale-while-revalidate=30'
const ARTICLE = 'public, max-age=60'

/**
 * A stand-in for a slow app server: every page costs `delayMs` (default 300), like a page rendered from a
 * database. The front page changes often (short TTL), articles rarely.
 */
export async function startDemoOrigin (delayMs = 300, port = 0): Promise<DemoOrigin> {
  let count = 0
  const server: Server = createServer((req, res) => {
    count++
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const isFront = path === '/'
    const isArticle = /^\/article\/\d+$/.test(path)
    setTimeout(() => {
      if (!isFront && !isArticle) {
        res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' }).end('not found\n')
        return
      }
      const body = `<!doctype html><title>${isFront ? 'Front page' : path}</title><h1>${isFront ? 'Today\'s deals' : path}</h1><p>rendered at ${new Date().toISOString()}</p>\n`
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': isFront ? FRONT_PAGE : ARTICLE }).end(body)
    }, delayMs)
  })
  server.keepAliveTimeout = 10_000
  const listening = await listenLoopback(server, port)
  const actual = listening.port
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests: () => count,
    reset: () => { count = 0 },
    close: listening.close
  }
}

// Runnable on its own, to point a proxy at by hand: node --import tsx bench/demo-origin.ts [port]
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const origin = await startDemoOrigin(300, Number(process.argv[2] ?? 0))
  process.stdout.write(`demo origin on ${origin.url} (300 ms per page); Ctrl-C to stop\n`)
  setInterval(() => { process.stdout.write(`origin requests: ${origin.requests()}\n`) }, 5000).unref()
}
