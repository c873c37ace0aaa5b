/**
 * Graceful shutdown of the client listener without a client error (issue 26, friction 3). [I/O]
 *
 * node:http's server.close() closes every idle keep-alive connection at once: a client that had just been answered
 * (keep-alive) and was sending its next request on that connection got ECONNRESET (undici: UND_ERR_SOCKET) for a
 * request it had already sent. So a drain here:
 * 1. answers every request from then on, and every one in flight whose head is not yet written, with
 *    `Connection: close` (node then closes the connection after that answer, and the client knows not to reuse it);
 * 2. stops accepting connections (the listening socket only);
 * 3. closes a connection only once it has been seen idle for `idleMs`: a client in a request loop sends within
 *    milliseconds and gets its `Connection: close` answer; one that stays silent that long is not mid-request;
 * 4. after `graceMs`, closes whatever remains.
 */
import type { Server, ServerResponse } from 'node:http'
import { Server as NetServer, type Socket } from 'node:net'

interface HttpSocket extends Socket {
  /** The response node:http is writing on this socket, if any (null between requests). */
  _httpMessage?: ServerResponse | null
}

/** How often a draining server looks at its connections. */
const SWEEP_MS = 50

export class ConnectionDrain {
  readonly #server: Server
  readonly #sockets = new Set<HttpSocket>()
  #closing = false

  /** Tracks the server's connections from now on: one Set entry per connection, nothing per request. */
  constructor (server: Server) {
    this.#server = server
    const sockets = this.#sockets
    // One shared listener, not a closure per connection.
    function forget (this: HttpSocket): void { sockets.delete(this) }
    server.on('connection', (socket: HttpSocket) => {
      sockets.add(socket)
      socket.on('close', forget)
    })
  }

  /** Open connections (for tests and the shutdown log). */
  get connections (): number {
    return this.#sockets.size
  }

  /** Step 1: from now on every answer carries `Connection: close`. Costs nothing before a drain. */
  closeAfterEachResponse (): void {
    if (this.#closing) return
    this.#closing = true
    this.#server.prependListener('request', noKeepAlive)
    for (const socket of this.#sockets) {
      const res = socket._httpMessage
      if (res != null && !res.headersSent) res.shouldKeepAlive = false
    }
  }

  /** Steps 1-4; resolves once every connection is closed. */
  async drain (graceMs: number, idleMs: number): Promise<void> {
    this.closeAfterEachResponse()
    const server = this.#server
    if (!server.listening) return
    // net's close, not http's: http's would close every idle keep-alive connection at once (the race above).
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()))
    const idleSince = new Map<HttpSocket, number>()
    const sweep = setInterval(() => {
      const now = Date.now()
      for (const socket of this.#sockets) {
        const res = socket._httpMessage
        if (res != null) {
          if (!res.headersSent) res.shouldKeepAlive = false
          idleSince.delete(socket)
          continue
        }
        const since = idleSince.get(socket)
        if (since === undefined) idleSince.set(socket, now)
        else if (now - since >= idleMs) socket.destroy()
      }
    }, SWEEP_MS)
    sweep.unref()
    const timer = setTimeout(() => server.closeAllConnections(), graceMs)
    timer.unref()
    await closed
    clearInterval(sweep)
    clearTimeout(timer)
  }
}

function noKeepAlive (_req: unknown, res: ServerResponse): void {
  res.shouldKeepAlive = false
}

/** How long a connection must be seen idle before a drain closes it: a second, or the keep-alive timeout if shorter. */
export function drainIdleMs (keepAliveTimeoutMs: number): number {
  return Math.max(SWEEP_MS, Math.min(1000, keepAliveTimeoutMs))
}
