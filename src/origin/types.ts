/**
 * The origin's contract with the stages above it: a request, its response, and the client that sends one (fetch.ts
 * implements it over undici; tests hand in a fake). A leaf, so group.ts, server.ts and the stages need not import fetch.ts.
 */
import type { Readable } from 'node:stream'

export interface OriginRequest {
  readonly method: string
  /** Path and query as the client sent them (the cache key's normalisation is not applied to what is fetched). */
  readonly path: string
  readonly headers: Record<string, string | string[]>
  readonly body?: Readable | null
  /** The origin group (the route's `origin`); the default group "origin" when absent. */
  readonly group?: string | undefined
  /** A client that was the only one waiting for this request left (client-gone.ts): the origin request is aborted. */
  readonly signal?: AbortSignal | undefined
}

export interface OriginResponse {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Readable
  /**
   * origin.timeoutMs when this response was fetched. Streaming it on to a client that stops reading gives up after
   * as long (deliver-stream.ts): a paused body holds its pool connection and limiter slot, and undici's bodyTimeout never fires.
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
  /** Each group's servers and their state (Origin has it): the health path says when none is up. */
  report?: () => Record<string, ReadonlyArray<{ readonly state: string }>>
  /** origin.fillBodyTimeoutMs: a fill's whole body must arrive within this (absent or 0: no whole-body deadline). */
  readonly fillBodyTimeoutMs?: number
}

/** Told of every origin answer's headers: the origin-duration metric. */
export type OriginObserver = (latencyMs: number, status: number) => void
