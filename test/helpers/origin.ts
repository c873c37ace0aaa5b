/**
 * A real origin for tests: node:http on port 0 that counts requests, records what it received, and can be held
 * shut on a gate until the test releases it (varnishtest's barrier, not a sleep).
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http'

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>

export interface TestOrigin {
  readonly url: string
  readonly port: number
  /** Requests received, in order. */
  readonly requests: Array<{ method: string, url: string, headers: IncomingMessage['headers'], body: string }>
  readonly count: number
  /** Requests currently being handled (held on the gate or answering). */
  readonly inFlight: number
  readonly maxInFlight: number
  /** Hold every request until `release()`; `arrived(n)` resolves once n requests are held. */
  hold (): void
  /** Let held requests through; with `keepHolding`, later ones are held again. */
  release (keepHolding?: boolean): void
  arrived (n: number): Promise<void>
  setHandler (handler: OriginHandler): void
  close (): Promise<void>
}

export async function startOrigin (handler: OriginHandler): Promise<TestOrigin> {
  let current = handler
  let held: Array<() => void> | null = null
  const waiters: Array<{ n: number, resolve: () => void }> = []
  const requests: TestOrigin['requests'] = []
  let inFlight = 0
  let maxInFlight = 0

  const checkArrivals = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i] as { n: number, resolve: () => void }
      if (requests.length >= w.n) {
        waiters.splice(i, 1)
        w.resolve()
      }
    }
  }

  const server: Server = createServer((req, res) => {
    const record = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: '' }
    requests.push(record)
    const n = requests.length
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    res.on('close', () => { inFlight-- })
    const run = (): void => {
      Promise.resolve(current(req, res, n)).catch((err: unknown) => {
        res.destroy(err as Error)
      })
    }
    // Read the request body first (tests assert on it), then answer, or wait on the gate.
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { record.body += chunk })
    req.once('end', () => {
      if (held !== null) held.push(run)
      else run()
    })
    checkArrivals()
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get count () { return requests.length },
    get inFlight () { return inFlight },
    get maxInFlight () { return maxInFlight },
    hold () { held ??= [] },
    release (keepHolding = false) {
      const queue = held ?? []
      held = keepHolding ? [] : null
      for (const run of queue) run()
    },
    arrived (n) {
      if (requests.length >= n) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ n, resolve }))
    },
    setHandler (h) { current = h },
    async close () {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** A handler answering `body` with the given headers after `delayMs` (a real origin's think time). */
export function answer (status: number, headers: Record<string, string>, body: string | ((n: number) => string), delayMs = 0): OriginHandler {
  return (_req, res, n) => {
    const send = (): void => {
      res.writeHead(status, headers)
      res.end(typeof body === 'function' ? body(n) : body)
    }
    if (delayMs > 0) setTimeout(send, delayMs)
    else send()
  }
}
