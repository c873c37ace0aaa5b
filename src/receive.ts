/**
 * receive: the client-facing node:http server. Limits and timeouts so a slow or broken client costs little;
 * malformed requests get 400 (431, 408) as node's parser would, and a log line; graceful drain on shutdown.  [I/O]
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Config } from './config/types.js'
import type { Logger } from './core/log.js'
import { setBacklogLimit } from './client-backlog.js'

export function makeServer (
  listen: Config['listen'], handle: (req: IncomingMessage, res: ServerResponse) => void, logger: Logger
): Server {
  const server = createServer(makeServerOptions(listen), handle)
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, logger))
  const firstByteMs = listen.firstByteTimeoutMs
  server.on('connection', (socket: Socket) => { setTimeout(closeIfSilent, firstByteMs, socket).unref() })
  setBacklogLimit(server, listen.maxUnwrittenBytes)
  return server
}

/**
 * node:http's options from listen.*. Pure.
 * - headersTimeout bounds the headers alone (listen.headersTimeoutMs), so a slowloris client trickling header lines is
 *   cut long before a slow upload is; node refuses one longer than requestTimeout, so it is capped at that.
 * - node enforces both timeouts only when its connection check runs, every connectionsCheckingInterval (30 s by
 *   default): with requestTimeoutMs 2000, 200 slow-header connections lived until that check, all cut at once.
 * - joinDuplicateHeaders: a second Host line reaches the pipeline as `a, b`, which is no host (key.ts isValidHost
 *   refuses the space), so it gets the 400 RFC 9112 §3.2 asks for; without it node keeps the first line and drops
 *   the rest, and the origin may read the other one. It costs a plain hit nothing: node's _addHeaderLine tests the
 *   option only for a field already present, in place of the "drop the duplicate" test it makes otherwise. Other
 *   repeated singleton fields (User-Agent, Authorization…) are joined too, as RFC 9110 §5.3 allows, instead of
 *   silently losing all but the first.
 */
export function makeServerOptions (listen: Config['listen']): ServerOptions {
  const headersTimeout = Math.min(listen.headersTimeoutMs, listen.requestTimeoutMs)
  return {
    requestTimeout: listen.requestTimeoutMs,
    headersTimeout,
    connectionsCheckingInterval: connectionsCheckIntervalMs(headersTimeout),
    keepAliveTimeout: listen.keepAliveTimeoutMs,
    noDelay: true,
    joinDuplicateHeaders: true
  }
}

/**
 * How often node looks for connections past their timeout: a tenth of the shortest one, so a connection is cut at
 * most 10% late (between 100 ms and 1 s). Each check walks the list of open connections in C++; a few thousand
 * connections cost microseconds per check, and only idle checks run when nothing is slow.
 */
export function connectionsCheckIntervalMs (shortestTimeoutMs: number): number {
  return Math.min(1000, Math.max(100, Math.floor(shortestTimeoutMs / 10)))
}

/**
 * listen.firstByteTimeoutMs: a connection that has sent nothing is closed. node's headersTimeout starts at a
 * request's first byte, and its keep-alive timeout only after a first answer, so a connection that never sends a
 * byte had no deadline at all (issue 23: 1,000 of 1,000 still open after 45 s). Once a byte has come, headersTimeout
 * and requestTimeout take over. bytesRead counts what the socket's handle read, also while node's parser consumes the
 * handle directly (no 'data' events to listen for).
 */
function closeIfSilent (socket: Socket): void {
  if (socket.bytesRead === 0 && !socket.destroyed) socket.destroy()
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
 * status, as node:http does, unless responses are pending on the socket: see closeAfterPending), and errors a response was destroyed with (an origin that broke off
 * mid-body, a client that stopped reading; deliver-stream.ts), which only close the socket.
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
  if (!request || !socket.writable) {
    socket.destroy()
    return
  }
  if (socket._httpMessage == null) socket.end(CANNED[code] ?? BAD_REQUEST)
  else closeAfterPending(socket, code)
}

/**
 * The request being received cannot be finished: listen.requestTimeoutMs passed while its body was still arriving, or
 * the client half-closed mid-body (HPE_INVALID_EOF_STATE). Waiting for the pending answers, as for a bad pipelined
 * request, waited for ever: a pass's answer waits for the very body the origin is still being sent (issue 23: four
 * clients sending a byte every 500 ms held every origin connection). The connection is closed now, with the status
 * when nothing of an answer has gone out yet; the pass sees its client go and aborts its origin request
 * (client-gone.ts).
 */
function cutUnfinishedRequest (socket: HttpSocket, code: string): void {
  if (socket._httpMessage?.headersSent === false) socket.write(CANNED[code] ?? BAD_REQUEST)
  socket.destroy()
}

/**
 * A bad request pipelined behind others: the answers already owed (under way, or queued behind one still waiting on
 * the origin) go out in full first, then the connection closes. Before, the 400 was written at once, ahead of an
 * answer still on its way (the client got only the 400), or into the body under way. Nothing is written after them:
 * bytes that do not parse may be the tail of a request the client framed differently, and a close says enough.
 * node:http's own 'finish' listener runs first and hands the socket to the next queued response.
 */
function closeAfterPending (socket: HttpSocket, code: string): void {
  const current = socket._httpMessage
  if (current == null) {
    socket.end()
    return
  }
  // An answer to a request whose body never finished arriving may be waiting on that body: it would never finish.
  if (!current.req.complete) return cutUnfinishedRequest(socket, code)
  current.once('finish', () => closeAfterPending(socket, code))
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
