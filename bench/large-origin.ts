/**
 * The large-object origin and ceiling of bench section 8. As an origin (in the runner): `/obj/<bytes>/<id>` answers
 * `<bytes>` bytes, `public, max-age=600`, with a Content-Length, after THINK_MS, dripped in 256 KiB pieces over about
 * DRIP_MS (an origin reading a file from slow storage, or a far one), counting requests. As a ceiling (a child process,
 * CEILING_BYTES and PORT set): a bare node:http server sending the same bytes from memory, the hit path's denominator.
 */
import { createServer, type Server } from 'node:http'

export const THINK_MS = 100
export const DRIP_MS = 1000
const PIECE = 256 * 1024

const bodies = new Map<number, Buffer>()
export function bodyOf (bytes: number): Buffer {
  let body = bodies.get(bytes)
  if (body === undefined) {
    body = Buffer.alloc(bytes, 'corral large object. ')
    bodies.set(bytes, body)
  }
  return body
}

export interface LargeOrigin {
  readonly url: string
  requests (): number
  reset (): void
  close (): Promise<void>
}

export async function startLargeOrigin (): Promise<LargeOrigin> {
  let count = 0
  const server: Server = createServer((req, res) => {
    count++
    const bytes = Number((req.url ?? '').split('/')[2])
    const body = bodyOf(Number.isInteger(bytes) && bytes > 0 ? bytes : 1024)
    const pieces = Math.ceil(body.length / PIECE)
    const gap = DRIP_MS / pieces
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-type': 'application/octet-stream', 'content-length': String(body.length) })
      let i = 0
      const next = (): void => {
        if (res.destroyed) return
        const piece = body.subarray(i * PIECE, (i + 1) * PIECE)
        i++
        if (i >= pieces) {
          res.end(piece)
          return
        }
        res.write(piece)
        setTimeout(next, gap)
      }
      next()
    }, THINK_MS)
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    reset: () => { count = 0 },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

if (process.env['CEILING_BYTES'] !== undefined) {
  const body = bodyOf(Number(process.env['CEILING_BYTES']))
  const headers = ['cache-control', 'public, max-age=600', 'content-type', 'application/octet-stream', 'content-length', String(body.length), 'age', '1', 'x-cache', 'HIT']
  createServer((_req, res) => {
    res.writeHead(200, headers)
    res.end(body)
  }).listen(Number(process.env['PORT']), '127.0.0.1')
}
