/**
 * receive: the client-facing node:http server. Limits and timeouts so a slow or broken client costs little;
 * malformed requests get 400 from node's parser and a log line; graceful drain on shutdown.  [I/O]
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Config } from './config/types.js'
import type { Logger } from './log.js'

export function makeServer (
  listen: Config['listen'], handle: (req: IncomingMessage, res: ServerResponse) => void, logger: Logger
): Server {
  const server = createServer({
    requestTimeout: listen.requestTimeoutMs,
    headersTimeout: Math.min(listen.requestTimeoutMs, 20_000),
    keepAliveTimeout: listen.keepAliveTimeoutMs,
    noDelay: true
  }, handle)
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Parse errors (bad request line, oversized headers) come here: answer 400 if the socket still can.
    if (err.code !== 'ECONNRESET') logger.info({ code: err.code, reason: err.message }, 'bad request')
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 12\r\n\r\nbad request\n')
    else socket.destroy()
  })
  return server
}

export async function listenOn (server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  return typeof address === 'object' && address !== null ? address.port : port
}

/** Stop accepting, let in-flight requests finish (bounded by `graceMs`), then close what remains. */
export async function drainServer (server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  server.closeIdleConnections()
  // close() ends only the connections idle at that moment: a keep-alive connection whose response finishes later
  // would hold the drain open until the client or keepAliveTimeout ends it. Sweep them as they go idle.
  const sweep = setInterval(() => server.closeIdleConnections(), 50)
  sweep.unref()
  const timer = setTimeout(() => server.closeAllConnections(), graceMs)
  timer.unref()
  await closed
  clearInterval(sweep)
  clearTimeout(timer)
}
