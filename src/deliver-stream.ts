/**
 * deliver-stream: an origin answer written to the client as it arrives (a pass, a fill too large to store, a relay).
 * The body streams with backpressure; a client that goes away aborts the origin side, and one that stops reading is
 * cut off after the origin timeout (a paused origin body holds an origin connection and a limiter slot, and undici's
 * bodyTimeout never fires on a paused body).  [I/O]
 */
import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { abandon, toOriginError } from './origin/body.js'
import type { OriginResponse } from './origin/types.js'
import type { XCache } from './core/trace.js'
import { appendVia, toFlatHeaders } from './core/headers.js'
import { ClientStalledError, CorralError } from './core/errors.js'

const REPLACED = new Set(['x-cache', 'cache-status'])

/**
 * Write an origin response to the client as it arrives. `head` holds body bytes already read. Never rejects for
 * the origin or the client failing: the response is destroyed with the error, which node:http reports on the
 * client socket (receive.ts logs it), and the origin body is destroyed so its connection and slot come back.
 */
export async function streamResponse (
  res: ServerResponse, response: OriginResponse, head: readonly Buffer[] | null, xCache: XCache, cacheStatus: string,
  isHead: boolean, extra: readonly string[] | null, strip: ReadonlySet<string>, tally: { bytes: number }
): Promise<void> {
  const headers = toFlatHeaders(response.headers, REPLACED, strip)
  appendVia(headers)
  headers.push('x-cache', xCache, 'cache-status', cacheStatus)
  if (extra !== null) for (const h of extra) headers.push(h)
  res.writeHead(response.status, headers)
  if (isHead) {
    // A HEAD client answered from an origin GET: nobody will read the body. Reading it to the end would hold the
    // slot (and the origin's bandwidth) for as long as the whole body takes; closing the connection costs less.
    abandon(response.body)
    res.end()
    return
  }
  let blocked = false
  if (head !== null) {
    for (const chunk of head) {
      tally.bytes += chunk.length
      blocked = !res.write(chunk) || blocked
    }
  }
  await pump(response.body, res, blocked, response.timeoutMs, tally)
}

/**
 * Copy `body` into `res` with backpressure. While `res` needs draining the body is paused and a stall deadline runs:
 * if the client takes no more data for `stallMs`, both sides are destroyed.
 */
async function pump (body: Readable, res: ServerResponse, blocked: boolean, stallMs: number, tally: { bytes: number }): Promise<void> {
  await new Promise<void>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    let done = false
    let ended = false
    const settle = (err: Error | null, destroyBody: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      body.off('data', onData)
      body.off('end', onEnd)
      body.off('error', onError)
      res.off('drain', onDrain)
      res.off('finish', onFinish)
      res.off('close', onClose)
      if (destroyBody) abandon(body)
      // With an error, node:http destroys the client socket and reports the error there ('clientError').
      if (err !== null) res.destroy(err)
      resolve()
    }
    const wait = (): void => {
      body.pause()
      timer ??= setTimeout(onStall, stallMs)
    }
    const onData = (chunk: Buffer): void => {
      // The access line's bytes: what was handed to the client, chunked or not (a Content-Length may be absent).
      tally.bytes += chunk.length
      if (!res.write(chunk)) wait()
    }
    const onDrain = (): void => {
      if (ended) return
      clearTimeout(timer)
      timer = undefined
      body.resume()
    }
    // The origin is done (its slot released); what is left in node's buffers still gets the deadline, as a whole.
    const onEnd = (): void => {
      ended = true
      res.end()
      timer ??= setTimeout(onStall, stallMs)
    }
    const onFinish = (): void => settle(null, false)
    // The client left before the end: the origin side is aborted, releasing its connection and slot.
    const onClose = (): void => settle(null, true)
    // The origin broke off mid-body (or timed out between chunks): the response cannot be completed honestly.
    const onError = (err: Error): void => settle(new OriginBodyError(err), true)
    const onStall = (): void => settle(new ClientStalledError(stallMs), true)
    body.on('data', onData)
    body.once('end', onEnd)
    body.once('error', onError)
    res.on('drain', onDrain)
    res.once('finish', onFinish)
    res.once('close', onClose)
    // A body already paused (readBodyUpTo stops at the size limit) does not start flowing on a 'data' listener.
    if (blocked) wait()
    else body.resume()
  })
}

/** The origin failed after its headers were sent on to the client. */
class OriginBodyError extends CorralError {
  constructor (cause: Error) {
    const mapped = toOriginError(cause)
    super(mapped.code, `${mapped.message} mid-body: ${cause.message}`, mapped.status, { cause })
    this.name = 'OriginBodyError'
  }
}
