/**
 * receive: the client-facing node:http server. Limits and timeouts so a slow or broken client costs little;
 * malformed requests get 400 (431, 408) as node's parser would, and a log line; graceful drain on shutdown.  [I/O]
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Config } from './config/types.js'
import type { Logger } from './core/log.js'

export function makeServer (
  listen: Config['listen'], handle: (req: IncomingMessage, res: ServerResponse) => void, logger: Logger
): Server {
  const server = createServer({
    requestTimeout: listen.requestTimeoutMs,
    headersTimeout: Math.min(listen.requestTimeoutMs, 20_000),
    keepAliveTimeout: listen.keepAliveTimeoutMs,
    noDelay: true
  }, handle)
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, logger))
  return server
}

/** The answers node:http itself gives (lib/_http_server.js), for the errors it answers. */
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 12\r\n\r\nbad request\n'
const CANNED: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 32\r\n\r\nrequest header fields too large\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 18\r\n\r\npayload too large\n',
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 16\r\n\r\nrequest timeout\n'
}

/** The client went away: nothing to answer, nothing worth a log line. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE'])

interface HttpSocket extends Socket {
  /** The response node:http is writing on this socket, if any (what node's own clientError default checks). */
  _httpMessage?: ServerResponse | null
}

/**
 * Everything that goes wrong on a client socket comes here: parse errors and request timeouts (answered with a
 * status, as node:http does, unless a response is already under way on the socket: a status line written then
 * would land inside that response's body), and errors a response was destroyed with (an origin that broke off
 * mid-body, a client that stopped reading; pass.ts), which only close the socket.
 */
function onClientError (err: NodeJS.ErrnoException, socket: HttpSocket, logger: Logger): void {
  const code = err.code ?? ''
  const request = code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT'
  if (code.startsWith('HPE_')) {
    logger.info({ code, reason: err.message }, 'bad request')
  } else if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    logger.info({ code }, 'request timeout')
  } else if (!CLIENT_GONE.has(code)) {
    const cause = err.cause as NodeJS.ErrnoException | undefined
    logger.warn({ code, reason: err.message, cause: cause?.code ?? cause?.message }, 'client connection aborted')
  }
  const inProgress = socket._httpMessage?.headersSent === true
  if (request && socket.writable && !inProgress) socket.end(CANNED[code] ?? BAD_REQUEST)
  else socket.destroy()
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

/**
 * listen.drainDelayMs: after SIGTERM, keep the listener open and serving for `delayMs` while the health path answers
 * 503 (pipeline.draining), so a load balancer sees the 503 and takes the instance out before it refuses connections.
 * The timer is not unref'd: the process must stay for it even when no request keeps it busy.
 */
export async function holdBeforeDrain (delayMs: number, logger: Logger): Promise<void> {
  if (delayMs <= 0) return
  logger.info({ drainDelayMs: delayMs }, 'health answers 503; still serving until the drain delay ends')
  await new Promise<void>((resolve) => setTimeout(resolve, delayMs))
}
