/**
 * core/fill-request: what one fill is asked to do, as the driver builds it and every stage of the miss road reads it
 * (coalesce/, fill.ts). Types only, kept below the stages so the driver's records need no stage to name them.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { StoredEntry, VaryIndex } from './entry.js'

/** One fill, made once by the pipeline from the request; it holds no client connection. */
export interface FillRequest {
  /** The key looked up: the primary key, or the variant key its Vary index named. Flights and leases are per key. */
  readonly key: string
  readonly primaryKey: string
  /** The Vary index known from the lookup, if any (its epoch is kept when the origin still varies the same way). */
  readonly varyIndex: VaryIndex | null
  /** Path and the normalised query the key names: exactly what the origin is asked for. */
  readonly path: string
  /**
   * The client's side, as received: only a leader turns it into an origin request (makeOriginAsk), so the requests
   * waiting on a flight build no headers they would never send.
   */
  readonly client: ClientFacts
  /** The expired or stale entry being replaced: validators for a conditional request, a stale-if-error stand-in. */
  readonly stale: StoredEntry | undefined
  /**
   * The request carries a credential-like field a fill would send (core/origin-headers.ts isCredentialed): an
   * unstorable answer may be about this requester alone.
   */
  readonly credentialed: boolean
  /** The origin group to ask (the route's `origin`). */
  readonly group: string
  /** Only on a fill made for one client alone (hit-for-pass, Authorization): that client left (client-gone.ts). */
  readonly signal?: AbortSignal | undefined
}

/** What a fill needs of the client's request. */
export interface ClientFacts {
  readonly headers: IncomingHttpHeaders
  readonly address: string | undefined
  /** The host the key names (sent as Host on fills). */
  readonly keyHost: string
}
