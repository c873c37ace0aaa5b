/**
 * steps/origin: the pass (the client's request forwarded, the answer relayed, and what it invalidates) and the
 * fallback when the origin gives no answer.  [I/O: the origin, the cache through purge/]
 */
import type { StoredEntry } from '../core/entry.js'
import type { ShedReason } from '../shed.js'
import { forward, type ForwardOutcome } from '../pass.js'
import { makeOriginHeaders } from '../core/origin-headers.js'
import type { CorralError } from '../core/errors.js'
import { decideFallback } from '../policy/origin-error.js'
import { isSafeMethod } from '../policy/invalidate.js'
import { freshenFromHead, invalidateAfterUnsafe, type InvalidateContext } from '../purge/invalidate.js'
import { originFailed, originRoad, type Driver, type Exchange, type Step } from '../exchange.js'
import { relay, serve, shed, text } from './respond.js'
import { clientGoneSignal } from '../client-gone.js'

/** Stream through without touching the cache, as the answer row `originRoad(ex).answer` (method, bypass, hit-for-pass). */
export function pass (d: Driver, ex: Exchange): Step {
  const { req } = ex
  ex.trace.xCache = 'PASS'
  d.deps.metrics.originRequests.labels('pass').inc()
  const headers = makeOriginHeaders(req.headers, req.socket.remoteAddress, 'pass', ex.target.keyHost)
  forward(d.deps.origin, req, ex.target.forwardUrl, headers, ex.target.route.origin, clientGoneSignal(ex.res))
    .then((outcome) => d.resume(ex, passed(d, ex, outcome)), (err: unknown) => d.fail(ex, err))
  return 'park'
}

function passed (d: Driver, ex: Exchange, outcome: ForwardOutcome): Step {
  if (outcome.kind === 'error') return originFailed(d, ex, outcome.error)
  const { response } = outcome
  const { req, trace } = ex
  trace.originStatus = response.status
  trace.originMs = response.latencyMs
  const method = req.method ?? 'GET'
  const { settings } = d
  const now = d.deps.clock.now()
  if (!isSafeMethod(method)) {
    // RFC 9111 §4.4: an unsafe request the origin answered without an error invalidates the target URI and the
    // same-origin URIs in Location and Content-Location. Only an answer from the origin: a shed answer never reached
    // it, and marking pages stale would send refreshes to an origin that shedding is protecting.
    invalidateAfterUnsafe(invalidation(d), {
      method, status: response.status, target: req.url ?? '/', host: req.headers.host ?? '', headers: response.headers
    }, settings.keyOptions, now, settings.storeOptions.keepStaleSeconds).catch(noop)
  } else if (ex.isHead && response.status === 200) {
    // RFC 9111 §4.3.5: a HEAD that reached the origin freshens (or stales) the stored GET.
    freshenFromHead(invalidation(d), ex.target.primaryKey, req.headers, 200, response.headers, now, settings.storeOptions).catch(noop)
  }
  return relay(d, ex, response, null, originRoad(ex).answer, null)
}

function invalidation (d: Driver): InvalidateContext {
  return { store: d.cache.store, hitForPass: d.deps.hitForPass, logger: d.deps.logger }
}

/** The origin failed, timed out or is saturated: a stand-in if one may answer, else 502/504 (or the shed answer). */

/** Policy says what answers when the origin does not: the stale copy, the route's shed answer, or the error. */
export function fallback (d: Driver, ex: Exchange): Step {
  const now = d.deps.clock.now()
  const { cause, error } = originRoad(ex)
  const { trace } = ex
  const shedReason: ShedReason = cause === 'origin-busy' || cause === 'origin-error' ? 'origin-saturated' : cause
  switch (decideFallback(ex.entry, cause, now)) {
    case 'stale':
      if (cause !== 'origin-error' && cause !== 'origin-busy') trace.shed = shedReason
      return serve(d, ex, ex.entry as StoredEntry, now, 'stale', cause === 'origin-error' ? 'stale-if-error' : shedReason)
    case 'shed':
      shed(d, ex.res, trace, ex.target.route, shedReason, ex.isHead)
      return 'done'
    case 'error': {
      const failure = error as CorralError
      trace.error = failure.code
      d.deps.logger.warn({ url: ex.target.forwardUrl, code: failure.code, cause: (failure.cause as Error | undefined)?.message }, failure.message)
      return text(ex, failure.status, `${failure.message}\n`, trace.xCache === 'PASS' ? 'PASS' : 'MISS', 'error')
    }
  }
}

function noop (): void {}
