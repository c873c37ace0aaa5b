/** The pino logger and the shape of the access line. */
import type { ServerResponse } from 'node:http'
import pino, { type Logger, type DestinationStream } from 'pino'
import type { Trace } from './trace.js'
import type { Config } from './config/types.js'

export type { Logger }

/**
 * stdout through an asynchronous sonic-boom: lines written while a write is under way are batched into the next one, so
 * the hit path does not pay a syscall per request under load, and a warning is never held back in a buffer.
 */
export function makeLogger (level: Config['log']['level'], destination?: DestinationStream): Logger {
  const dest = destination ?? pino.destination({ dest: 1, sync: false })
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.epochTime }, dest)
}

export function flushLogger (logger: Logger): void {
  try {
    logger.flush()
  } catch {}
}

/** The access line: one per request, fields in a fixed order, absent values left out by pino's JSON. */
export function writeAccessLine (logger: Logger, trace: Trace, res: ServerResponse, ms: number, withTrace: boolean): void {
  const req = res.req
  if (withTrace) {
    logger.info({
      method: req.method,
      url: req.url,
      status: res.statusCode,
      cache: trace.xCache,
      ms: Math.round(ms * 100) / 100,
      key: trace.key,
      route: trace.route,
      tier: trace.tier,
      lease: trace.lease ?? undefined,
      coalesced: trace.coalesced,
      originStatus: trace.originStatus === 0 ? undefined : trace.originStatus,
      originMs: trace.originStatus === 0 ? undefined : Math.round(trace.originMs * 100) / 100,
      shed: trace.shed ?? undefined,
      error: trace.error ?? undefined
    }, 'access')
    return
  }
  logger.info({
    method: req.method,
    url: req.url,
    status: res.statusCode,
    cache: trace.xCache,
    bytes: trace.bytes,
    ms: Math.round(ms * 100) / 100,
    originStatus: trace.originStatus === 0 ? undefined : trace.originStatus,
    originMs: trace.originStatus === 0 ? undefined : Math.round(trace.originMs * 100) / 100,
    coalesced: trace.coalesced || undefined,
    shed: trace.shed ?? undefined,
    error: trace.error ?? undefined,
    aborted: res.writableFinished ? undefined : true
  }, 'access')
}
