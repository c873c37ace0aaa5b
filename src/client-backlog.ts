/**
 * client-backlog: the deadline on what a client connection has not yet written. It follows the connection's unwritten
 * bytes (socket.writableLength, plus answers pipelined behind the one under way, which node:http keeps in memory
 * until they get the socket), not the response object: node counts an answer finished once it is buffered, so a
 * timer on the response never ran for eight pipelined 900 KB hits a client left unread (issue 23: 7 MB and the
 * socket held past 40 s). Two bounds: no progress for `stallMs` (time), and more than `maxQueuedBytes` queued behind
 * the answer being written (bytes). A client that reads, however slowly, makes progress and is left alone.  [I/O]
 */
import type { Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { ClientBacklogError, ClientStalledError } from './core/errors.js'
import { isLoopStall } from './core/loop-stall.js'

/** One per connection with a backlog, dropped once the backlog is written. */
interface Backlog {
  readonly timer: ReturnType<typeof setTimeout>
  /** Bytes handed to the kernel at the last check: the progress measure. */
  flushed: number
  /** Bytes held by pipelined answers that have no socket yet. */
  queued: number
  stallMs: number
  /** performance.now() when the check is due: a check run late ran on a stalled loop, which judges nobody. */
  due: number
}

const BACKLOG = Symbol('corral.backlog')

const MAX_QUEUED_BYTES = Symbol('corral.maxQueuedBytes')

interface WatchedSocket extends Socket {
  [BACKLOG]?: Backlog | undefined
  /** The net.Server that accepted the connection (set by node:net for every accepted socket). */
  server?: LimitedServer
}

interface LimitedServer extends Server {
  [MAX_QUEUED_BYTES]?: number
}

/**
 * listen.maxUnwrittenBytes belongs to the listener, so it is kept on the server that accepts the connections: the
 * delivery code that watches a connection needs no extra argument, and only the rare pipelined answer reads it.
 */
export function setBacklogLimit (server: Server, maxQueuedBytes: number): void {
  (server as LimitedServer)[MAX_QUEUED_BYTES] = maxQueuedBytes
}

/** Without a listener's setting (a server made elsewhere): 8 MiB, the default of listen.maxUnwrittenBytes. */
const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024

/**
 * After an answer is written: watch its connection if it holds bytes not yet written. The plain hit pays one
 * property read and a comparison (writableLength is 0 once the kernel took the page).
 */
export function watchUnwritten (res: ServerResponse, stallMs: number): void {
  const own = res.socket
  if (own !== null && own.writableLength === 0) return
  const socket = res.req.socket as WatchedSocket
  if (socket.destroyed) return
  const backlog = socket[BACKLOG] ?? start(socket, stallMs)
  if (own === null && !res.writableFinished) queue(res, socket, backlog)
}

function start (socket: WatchedSocket, stallMs: number): Backlog {
  const timer = setTimeout(check, stallMs, socket)
  timer.unref()
  const backlog: Backlog = { timer, flushed: flushedBytes(socket), queued: 0, stallMs, due: performance.now() + stallMs }
  socket[BACKLOG] = backlog
  socket.once('close', forget)
  return backlog
}

/** A pipelined answer waiting for the socket: its bytes count until node hands it the socket (and they move there). */
function queue (res: ServerResponse, socket: WatchedSocket, backlog: Backlog): void {
  const maxQueuedBytes = socket.server?.[MAX_QUEUED_BYTES] ?? DEFAULT_MAX_QUEUED_BYTES
  const bytes = res.writableLength
  backlog.queued += bytes
  res.once('socket', () => { backlog.queued -= bytes })
  if (backlog.queued > maxQueuedBytes) socket.destroy(new ClientBacklogError(maxQueuedBytes))
}

function check (socket: WatchedSocket): void {
  const backlog = socket[BACKLOG]
  if (backlog === undefined || socket.destroyed) return
  if (socket.writableLength === 0 && backlog.queued === 0) {
    socket[BACKLOG] = undefined
    socket.off('close', forget)
    return
  }
  const flushed = flushedBytes(socket)
  const now = performance.now()
  // Destroyed with the reason, so the clientError handler logs it (receive.ts). A check that ran late ran on a busy
  // event loop, which may have kept the client's bytes from moving (core/loop-stall.ts): it waits one more period.
  if (flushed === backlog.flushed && !isLoopStall(now - backlog.due, backlog.stallMs)) {
    socket.destroy(new ClientStalledError(backlog.stallMs))
    return
  }
  backlog.flushed = flushed
  backlog.due = now + backlog.stallMs
  backlog.timer.refresh()
}

function forget (this: WatchedSocket): void {
  const backlog = this[BACKLOG]
  if (backlog !== undefined) clearTimeout(backlog.timer)
  this[BACKLOG] = undefined
}

/** bytesWritten counts what is still buffered too; without it, what the kernel has taken. */
function flushedBytes (socket: Socket): number {
  return socket.bytesWritten - socket.writableLength
}
