/**
 * `--log-format pretty`: one line per event for a person at a terminal. pino-pretty printed an access entry's dozen
 * fields one per line (11 lines a request: issue 26, friction 7); here an access entry becomes one summary message
 * (`GET /a 200 HIT 0.4ms`, then what else it carries), and every other event keeps its fields on its one line.
 */
import { createRequire } from 'node:module'
import type { DestinationStream } from 'pino'

type Pretty = (options: Record<string, unknown>) => DestinationStream

/** The access line's fields that go into its summary, in the order a person reads them. */
const ACCESS_FIELDS = ['method', 'url', 'status', 'cache', 'bytes', 'ms', 'client', 'host', 'userAgent', 'referer', 'requestId', 'originStatus', 'originMs', 'coalesced', 'shed', 'error', 'aborted']

/** One access entry as a line's message. Pure. */
export function accessSummary (entry: Record<string, unknown>): string {
  const parts = [`${String(entry.method ?? '')} ${String(entry.url ?? '')} ${String(entry.status ?? '')} ${String(entry.cache ?? '')} ${String(entry.ms ?? '')}ms`]
  if (entry.originStatus !== undefined) parts.push(`origin ${String(entry.originStatus)} ${String(entry.originMs ?? '')}ms`)
  if (entry.coalesced === true) parts.push('coalesced')
  if (entry.shed !== undefined) parts.push(`shed ${String(entry.shed)}`)
  if (entry.error !== undefined) parts.push(`error ${String(entry.error)}`)
  if (entry.aborted === true) parts.push('aborted')
  if (entry.bytes !== undefined) parts.push(`${String(entry.bytes)}B`)
  if (entry.requestId !== undefined) parts.push(`id ${String(entry.requestId)}`)
  // With the trace flag on, the rest (key, route, tier, lease) follows as key=value.
  for (const [k, v] of Object.entries(entry)) {
    if (v === undefined || ACCESS_FIELDS.includes(k) || k === 'level' || k === 'time' || k === 'pid' || k === 'msg' || k === 'hostname') continue
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  }
  return parts.join('  ')
}

/** A JSON log line as pino-pretty should see it: an access entry folded into its summary, anything else as it is. */
export function foldAccessLine (line: string): string {
  if (!line.includes('"msg":"access"')) return line
  try {
    const entry = JSON.parse(line) as Record<string, unknown>
    if (entry.msg !== 'access') return line
    return JSON.stringify({ level: entry.level, time: entry.time, pid: entry.pid, msg: accessSummary(entry) }) + '\n'
  } catch {
    return line
  }
}

/** pino-pretty on stdout (loaded only when asked for), every event on one line. */
export function prettyDestination (): DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as Pretty
  const out = pretty({ colorize: process.stdout.isTTY, sync: true, destination: 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname', singleLine: true })
  return { write (line: string) { out.write(foldAccessLine(line)) } }
}
