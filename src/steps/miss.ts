/**
 * steps/miss: the origin's road for a request the cache could not answer. miss takes the verdict's way through the
 * coalescer (lead, wait, alone), bypass gives an Authorization request a fill of its own, and outcome turns what came
 * back into an answer row: the one switch over a MissOutcome.  [I/O through coalesce/]
 */
import type { StoredEntry } from '../core/entry.js'
import { abandon, discard } from '../origin/body.js'
import { isRangeForOrigin } from '../policy/range.js'
import type { MissNotes, MissOutcome } from '../coalesce/outcome.js'
import { decideOriginError } from '../policy/origin-error.js'
import { assertNever } from '../core/errors.js'
import { makeFillRequest, originFailed, originRoad, type Driver, type Exchange, type Step } from '../exchange.js'
import { relay, serve, serveStreaming } from './respond.js'
import { clientGoneSignal } from '../client-gone.js'

/** Who goes to the origin: by the verdict, lead the key's flight, wait on it (busy), or go alone (hit-for-pass). */
export function miss (d: Driver, ex: Exchange): Step {
  const { req } = ex
  if (ex.verdict === 'hit-for-pass' && (ex.isHead || isRangeForOrigin(req.method ?? 'GET', req.headers.range, 200))) {
    // A HEAD for a hit-for-pass URL: a pass, with no body read for nothing; a Range: the origin answers the range.
    originRoad(ex).answer = 'hit-for-pass'
    return 'pass'
  }
  // Too large to store but shareable (origin/shared-stream.ts): its GETs still coalesce, one fetch per wave.
  if (ex.verdict === 'hit-for-pass' && d.deps.hitForPass.isShared(ex.target.primaryKey)) ex.verdict = d.flight.has(ex.key) ? 'busy' : 'miss'
  const road = originRoad(ex)
  const fill = road.fill ??= makeFillRequest(ex)
  const notes = makeNotes()
  const { coalescer } = d
  // A hit-for-pass URL is fetched for this client alone: its origin request goes when the client does.
  const pending = ex.verdict === 'busy' ? coalescer.wait(fill, notes, road.rounds) : ex.verdict === 'hit-for-pass' ? coalescer.alone({ ...fill, signal: clientGoneSignal(ex.res) }, notes) : coalescer.lead(fill, notes)
  awaitOutcome(d, ex, pending, notes)
  return 'park'
}

/** An Authorization request: a fill of its own (no lookup, flight or lease), stored only if the answer allows it. */
export function bypass (d: Driver, ex: Exchange): Step {
  ex.trace.xCache = 'PASS'
  ex.verdict = 'bypass'
  const notes = makeNotes()
  // Fetched for this client alone: its origin request goes when the client does (client-gone.ts).
  awaitOutcome(d, ex, d.coalescer.bypass({ ...makeFillRequest(ex), signal: clientGoneSignal(ex.res) }, notes), notes)
  return 'park'
}

function makeNotes (): MissNotes {
  return { lease: null, coalesced: false, originStatus: 0, originMs: 0 }
}

/** The coalescer's notes go into the trace here: stages return notes, only the driver writes the trace. */
function awaitOutcome (d: Driver, ex: Exchange, pending: Promise<MissOutcome>, notes: MissNotes): void {
  pending.then((outcome) => {
    const { trace } = ex
    if (notes.coalesced) trace.coalesced = true
    if (notes.lease !== null) trace.lease = notes.lease
    if (notes.originStatus !== 0) {
      trace.originStatus = notes.originStatus
      trace.originMs = notes.originMs
    }
    originRoad(ex).outcome = outcome
    d.resume(ex, 'outcome')
  }, (err: unknown) => d.fail(ex, err))
}

/** The one switch over a miss's outcome: an answer row (answer.ts) and its delivery. */
export function outcome (d: Driver, ex: Exchange): Step {
  const now = d.deps.clock.now()
  const road = originRoad(ex)
  const result = road.outcome as MissOutcome
  const authorized = ex.verdict === 'bypass'
  switch (result.kind) {
    case 'entry': {
      const answer = authorized ? 'bypass-stored' : result.collapsed ? 'collapsed' : result.revalidated ? 'revalidated' : ex.entry === undefined ? 'stored' : 'refetched'
      return serve(d, ex, result.entry, now, answer, null)
    }
    case 'streaming':
      if (!result.growing.stored) return serveStreaming(d, ex, result.growing, now, result.collapsed ? 'too-large-collapsed' : 'too-large-streamed')
      return serveStreaming(d, ex, result.growing, now, authorized ? 'bypass-stored' : result.growing.fleet === true ? 'fleet-streamed' : result.collapsed ? 'collapsed-streamed' : 'streamed')
    case 'stream':
      if (result.reason === 'error-status' && decideOriginError(ex.entry, result.response.status, false, now) === 'stale') {
        discard(result.response.body)
        return serve(d, ex, ex.entry as StoredEntry, now, 'stale', 'stale-if-error')
      }
      if (!authorized && isRangeForOrigin(ex.req.method ?? 'GET', ex.req.headers.range, result.response.status)) {
        // Not stored after all: the whole body this fill started is dropped and the range asked of the origin.
        abandon(result.response.body)
        road.answer = result.hitForPass ? 'hit-for-pass' : 'miss'
        return 'pass'
      }
      if (authorized) return relay(d, ex, result.response, result.head, 'bypass', null)
      if (result.hitForPass) return relay(d, ex, result.response, result.head, 'hit-for-pass', null)
      return relay(d, ex, result.response, result.head, 'miss', result.reason)
    case 'pass':
      road.answer = result.hitForPass && !authorized ? 'hit-for-pass' : 'bypass'
      return 'pass'
    case 'error':
      return originFailed(d, ex, result.error)
    case 'retry':
      // The leader's answer was made for its own credentials: decide again, behind a new leader or as one.
      road.rounds++
      return 'decide'
    default:
      return assertNever(result)
  }
}
