/**
 * Every failure corral reports has a stable `code` to match on (tests, logs, alerts), the HTTP `status` a
 * client gets for it, and the `cause` underneath.
 */
export class CorralError extends Error {
  readonly code: string
  readonly status: number

  constructor (code: string, message: string, status = 500, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CorralError'
    this.code = code
    this.status = status
  }
}

export class ConfigError extends CorralError {
  /** Dotted path of the offending key, e.g. `origin.timeoutMs` (empty for a file-level problem). */
  readonly keyPath: string

  constructor (keyPath: string, reason: string, options?: { cause?: unknown }) {
    super('CORRAL_ERR_CONFIG', keyPath === '' ? reason : `${keyPath}: ${reason}`, 500, options)
    this.name = 'ConfigError'
    this.keyPath = keyPath
  }
}

export class OriginUnreachableError extends CorralError {
  constructor (cause: unknown) {
    super('CORRAL_ERR_ORIGIN_UNREACHABLE', 'origin unreachable', 502, { cause })
    this.name = 'OriginUnreachableError'
  }
}

export class OriginTimeoutError extends CorralError {
  constructor (cause?: unknown) {
    super('CORRAL_ERR_ORIGIN_TIMEOUT', 'origin timed out', 504, { cause })
    this.name = 'OriginTimeoutError'
  }
}

/** Every server of the origin group is down or ejected: answered at once (a stale copy, else 502), never queued. */
export class OriginDownError extends CorralError {
  constructor (group: string) {
    super('CORRAL_ERR_ORIGIN_DOWN', `no healthy server in origin group "${group}"`, 502)
    this.name = 'OriginDownError'
  }
}

export class OriginBusyError extends CorralError {
  constructor () {
    super('CORRAL_ERR_ORIGIN_BUSY', 'origin concurrency limit reached', 503)
    this.name = 'OriginBusyError'
  }
}

/** The origin answered 5xx: waiters of that fetch get this (or a stale copy), not a fetch of their own. */
export class OriginStatusError extends CorralError {
  constructor (status: number) {
    super('CORRAL_ERR_ORIGIN_STATUS', `origin answered ${status}`, status >= 500 && status <= 599 ? status : 502)
    this.name = 'OriginStatusError'
  }
}

/**
 * The origin's body does not decode in the Content-Encoding it declared (or decodes past cache.maxObjectBytes): it is
 * never stored, since every client without that coding would get bytes corral cannot produce.
 */
export class OriginEncodingError extends CorralError {
  constructor (coding: string, cause: unknown) {
    super('CORRAL_ERR_ORIGIN_ENCODING', `origin body is not valid ${coding}`, 502, { cause })
    this.name = 'OriginEncodingError'
  }
}

/** The origin answered with something no request of corral's can take (a 304 to an unconditional fetch). */
export class OriginBadAnswerError extends CorralError {
  constructor (what: string) {
    super('CORRAL_ERR_ORIGIN_BAD_ANSWER', `origin answered ${what}`, 502)
    this.name = 'OriginBadAnswerError'
  }
}

export class WaiterTimeoutError extends CorralError {
  constructor () {
    super('CORRAL_ERR_WAITER_TIMEOUT', 'waited too long for a shared origin fetch', 504)
    this.name = 'WaiterTimeoutError'
  }
}

/**
 * A fill followed from another proxy through memcached (coalesce/fleet-follow.ts) did not come whole: the filling proxy
 * failed it, a chunk could not be read, or the fill deadline passed. Its clients are cut off, never given a short body.
 */
export class FleetStreamError extends CorralError {
  constructor (reason: string) {
    super('CORRAL_ERR_FLEET_STREAM', `fill followed from another proxy failed: ${reason}`, 502)
    this.name = 'FleetStreamError'
  }
}

export function errorCode (err: unknown): string {
  return err instanceof CorralError ? err.code : 'CORRAL_ERR_INTERNAL'
}

/** The client left the response unread for the stall deadline: corral gave up on it. */
export class ClientStalledError extends CorralError {
  constructor (stallMs: number) {
    super('CORRAL_ERR_CLIENT_STALLED', `client read nothing for ${stallMs} ms: response aborted`, 408)
    this.name = 'ClientStalledError'
  }
}

/** The client fell a whole window behind the other clients of a shared origin stream (origin/shared-stream.ts). */
export class ClientBehindError extends CorralError {
  constructor (windowBytes: number) {
    super('CORRAL_ERR_CLIENT_BEHIND', `client fell ${windowBytes} bytes behind a shared origin stream: response aborted`, 408)
    this.name = 'ClientBehindError'
  }
}

/**
 * A pipelining client left more answers unwritten than listen.maxUnwrittenBytes allows behind the one being written:
 * no browser pipelines, and each queued answer is held in memory until the client reads the ones before it.
 */
export class ClientBacklogError extends CorralError {
  constructor (maxBytes: number) {
    super('CORRAL_ERR_CLIENT_BACKLOG', `client left more than ${maxBytes} bytes of pipelined answers unread: connection closed`, 408)
    this.name = 'ClientBacklogError'
  }
}

/** The client went away before its answer: its origin request is aborted; nothing is counted against the origin. */
export class ClientGoneError extends CorralError {
  constructor () {
    super('CORRAL_ERR_CLIENT_GONE', 'client went away before its answer: origin request aborted', 499)
    this.name = 'ClientGoneError'
  }
}

/**
 * A chunk of a long Range answer read from memcached while it was sent (store/chunk-ranges.ts) was missing or wrong,
 * or its node did not answer: the 206 was under way, so its connection is cut before the declared length.
 */
export class ChunkTornError extends CorralError {
  constructor (why: 'torn' | 'failed') {
    super('CORRAL_ERR_CHUNK_TORN', why === 'torn' ? 'a chunk of a range being sent was missing: response aborted' : 'memcached did not answer for a chunk of a range being sent: response aborted', 502)
    this.name = 'ChunkTornError'
  }
}

/** The end of an exhaustive switch: reached only if a union grew a member its switch does not handle. */
export function assertNever (value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`)
}
