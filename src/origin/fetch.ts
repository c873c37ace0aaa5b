/**
 * fetch: how corral talks to the origin. One undici Pool with keep-alive; timeouts on headers and body; bounded
 * retries for idempotent requests after connection failures only (never after a timeout: retries amplify overload).
 * Every failure becomes a CorralError with a stable code.  [I/O]
 */
import { performance } from 'node:perf_hooks'
import type { Readable } from 'node:stream'
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici'
import type { Config } from '../config/types.js'
import { CorralError, OriginTimeoutError, OriginUnreachableError } from '../core/errors.js'
import type { OriginLimiter } from './limit.js'

export interface OriginRequest {
  readonly method: string
  /** Path and query as the client sent them (the cache key's normalisation is not applied to what is fetched). */
  readonly path: string
  readonly headers: Record<string, string | string[]>
  readonly body?: Readable | null
}

export interface OriginResponse {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Readable
  /**
   * origin.timeoutMs when this response was fetched. Streaming it on to a client that stops reading gives up after
   * as long (pass.ts): a paused body holds its pool connection and limiter slot, and undici's bodyTimeout never fires.
   */
  readonly timeoutMs: number
  /** Milliseconds from asking to the response headers, queue included: the origin call's one timing. */
  latencyMs: number
}

/**
 * What the miss path and passes need of the origin: one request at a time, and the timeout in force. `Origin`
 * implements it over undici; tests of coalesce/ and fill hand in a fake (no sockets).
 */
export interface OriginClient {
  request (req: OriginRequest): Promise<OriginResponse>
  readonly timeoutMs: number
}

/** Told of every origin answer's headers: the origin-duration metric. */
export type OriginObserver = (latencyMs: number, status: number) => void

/** Connection-level failures after which an idempotent request may be sent again. */
const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

export class Origin implements OriginClient {
  readonly #pool: Pool
  readonly #limiter: OriginLimiter | null
  readonly #observe: OriginObserver | null
  readonly #basePath: string
  #timeoutMs: number
  #retries: number

  /** `limiter` guards concurrent requests (origin.maxInFlight); a request holds its slot until its body is done. */
  constructor (origin: Config['origin'], limiter: OriginLimiter | null = null, observe: OriginObserver | null = null) {
    this.#limiter = limiter
    this.#observe = observe
    const url = new URL(origin.url)
    this.#basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
    this.#timeoutMs = origin.timeoutMs
    this.#retries = origin.retries
    this.#pool = new Pool(url.origin, {
      connections: origin.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: Math.min(origin.timeoutMs, 10_000) },
      headersTimeout: origin.timeoutMs,
      bodyTimeout: origin.timeoutMs
    })
  }

  /** Hot reload: timeouts and retries apply to the next request. The URL and pool size need a restart. */
  update (origin: Config['origin']): void {
    this.#timeoutMs = origin.timeoutMs
    this.#retries = origin.retries
  }

  get timeoutMs (): number {
    return this.#timeoutMs
  }

  async request (req: OriginRequest): Promise<OriginResponse> {
    const limiter = this.#limiter
    const asked = performance.now()
    if (limiter === null) return this.#observed(await this.#send(req), asked)
    // Throws OriginBusyError when the queue is full or the wait times out: callers serve stale or shed.
    if (!limiter.tryAcquire()) await limiter.acquire()
    const started = performance.now()
    let response: OriginResponse
    try {
      response = this.#observed(await this.#send(req), asked)
    } catch (err) {
      limiter.release()
      throw err
    }
    // Latency to headers without the limiter's queue is the origin's think time, the signal the adaptive limit follows.
    const latencyMs = performance.now() - started
    let released = false
    const done = (): void => {
      if (released) return
      released = true
      limiter.release(latencyMs)
    }
    response.body.once('end', done)
    response.body.once('close', done)
    response.body.once('error', done)
    return response
  }

  #observed (response: OriginResponse, asked: number): OriginResponse {
    response.latencyMs = performance.now() - asked
    this.#observe?.(response.latencyMs, response.status)
    return response
  }

  async #send (req: OriginRequest): Promise<OriginResponse> {
    const idempotent = req.method === 'GET' || req.method === 'HEAD'
    for (let attempt = 0; ; attempt++) {
      const timeoutMs = this.#timeoutMs
      try {
        const res = await this.#requestWithDeadline(req, timeoutMs)
        return { status: res.statusCode, headers: res.headers, body: res.body, timeoutMs, latencyMs: 0 }
      } catch (err) {
        const mapped = toOriginError(err)
        if (!idempotent || attempt >= this.#retries || !RETRYABLE.has(codeOf(err))) throw mapped
      }
    }
  }

  /**
   * headersTimeout only starts once a request is on a connection: one queued in the pool behind busy connections
   * would wait there with no timer at all (and undici looks at an abort signal only once it dequeues the request).
   * So the whole way to the headers (queue, connect, send, answer) gets `timeoutMs`, cleared once they arrive, or
   * once undici starts reading a request body: a slow upload stays bounded by listen.requestTimeoutMs and the
   * origin's answer by headersTimeout, as before.
   */
  async #requestWithDeadline (req: OriginRequest, timeoutMs: number): Promise<Dispatcher.ResponseData> {
    const deadline = new AbortController()
    const sent = this.#pool.request({
      method: req.method as 'GET',
      path: this.#basePath + req.path,
      headers: req.headers,
      body: req.body ?? null,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: deadline.signal
    })
    return await new Promise((resolve, reject) => {
      const clear = (): void => {
        clearTimeout(timer)
        req.body?.off('resume', clear)
      }
      const timer = setTimeout(() => {
        clear()
        const err = new OriginTimeoutError(new QueueTimeoutError(timeoutMs))
        reject(err)
        // Aborted, the request never reaches the origin once dequeued; an answer racing the deadline is dropped.
        deadline.abort(err)
        sent.then((late) => abandon(late.body), noop)
      }, timeoutMs)
      req.body?.once('resume', clear)
      sent.then((res) => {
        clear()
        resolve(res)
      }, (err: unknown) => {
        clear()
        reject(err)
      })
    })
  }

  async close (): Promise<void> {
    await this.#pool.close()
  }
}

/** No connection to the origin became free (or none answered) within origin.timeoutMs. */
class QueueTimeoutError extends Error {
  readonly code = 'CORRAL_ERR_ORIGIN_QUEUE_TIMEOUT'
  constructor (timeoutMs: number) {
    super(`no origin response headers within ${timeoutMs} ms (queued for a connection, or not answered)`)
    this.name = 'QueueTimeoutError'
  }
}

function codeOf (err: unknown): string {
  const e = err as { code?: string, cause?: { code?: string } }
  return e.cause?.code ?? e.code ?? ''
}

export function toOriginError (err: unknown): CorralError {
  if (err instanceof CorralError) return err
  if (err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError) return new OriginTimeoutError(err)
  return new OriginUnreachableError(err)
}

export type BodyRead =
  | { readonly kind: 'complete', readonly body: Buffer }
  | { readonly kind: 'overflow', readonly head: Buffer[] }

/**
 * Read a body into memory up to `maxBytes`. Past that it stops reading and hands back what it has, so the caller
 * can stream the head and the rest of the body through without storing it.
 */
export async function readBodyUpTo (body: Readable, maxBytes: number): Promise<BodyRead> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size > maxBytes) {
        cleanup()
        body.pause()
        resolve({ kind: 'overflow', head: chunks })
      }
    }
    const onEnd = (): void => {
      cleanup()
      resolve({ kind: 'complete', body: chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, size) })
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(toOriginError(err))
    }
    const cleanup = (): void => {
      body.off('data', onData)
      body.off('end', onEnd)
      body.off('error', onError)
    }
    body.on('data', onData)
    body.on('end', onEnd)
    body.on('error', onError)
  })
}

/** Drain a response nobody will read, so its connection returns to the pool. */
export function discard (body: Readable): void {
  body.on('error', noop)
  body.resume()
}

/** Destroy a body nobody will read: its origin connection closes and its limiter slot is released at once. */
export function abandon (body: Readable): void {
  body.on('error', noop)
  body.destroy()
}

function noop (): void {}
