/** The pino logger and the shape of the access line. */
import type { ServerResponse } from 'node:http'
import pino, { type Logger, type DestinationStream } from 'pino'
import type { Trace } from './trace.js'
import type { Config } from './config/types.js'

export type { Logger }

/**
 * stdout through an asynchronous sonic-boom that writes 4 KiB at a time (one write per line, each a thread-pool job,
 * cost a third of a cache hit's throughput: bench section 1, log on / log off), flushed every 250 ms so a quiet
 * proxy's warning is never held back longer than that. `flushLogger` runs on shutdown so nothing is lost.
 */
export function makeLogger (level: Config['log']['level'], destination?: DestinationStream): Logger {
  const dest = destination ?? pino.destination({ dest: 1, sync: true, minLength: 4096, periodicFlush: 250 })
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.epochTime }, dest)
}

export function flushLogger (logger: Logger): void {
  try {
    logger.flush()
  } catch {}
}

/** The access line: one per request, fields in a fixed order, absent values left out. */
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
  if (!logger.isLevelEnabled('info')) return
  // Written by hand rather than through logger.info(object): pino's serialisation of a dozen fields cost a sixth of
  // a cache hit (bench section 1, log on / log off). Same shape as pino's lines: level, time, pid, fields, msg.
  let line = `{"level":30,"time":${Date.now()},"pid":${process.pid},"method":"${req.method ?? ''}","url":${JSON.stringify(req.url ?? '')},"status":${res.statusCode},"cache":"${trace.xCache ?? 'ERROR'}","bytes":${trace.bytes},"ms":${Math.round(ms * 100) / 100}`
  if (trace.originStatus !== 0) line += `,"originStatus":${trace.originStatus},"originMs":${Math.round(trace.originMs * 100) / 100}`
  if (trace.coalesced) line += ',"coalesced":true'
  if (trace.shed !== null) line += `,"shed":"${trace.shed}"`
  if (trace.error !== null) line += `,"error":"${trace.error}"`
  if (!res.writableEnded) line += ',"aborted":true'
  ;(logger as unknown as Record<symbol, { write (line: string): void }>)[pino.symbols.streamSym]?.write(`${line},"msg":"access"}\n`)
}
