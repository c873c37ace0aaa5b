/**
 * `corral top --admin <url> [--admin <url>]… [--once] [--interval <ms>]`: a live view of one proxy or a fleet, like
 * varnishstat, from each admin listener's /metrics: requests/s, hit ratio, origin requests/s by reason, p99, the
 * share shed against shedPercent, memcached and origin server state. One frame a second; `--once` prints one frame
 * (two scrapes an interval apart) and exits, for scripts and tests.  [I/O]
 */
import { parseArgs } from 'node:util'
import { fleetFrame, frameOf, parseMetrics, snapshotOf, type Frame, type Snapshot } from './top-frame.js'

export const TOP_USAGE = `usage: corral top --admin <url> [--admin <url>]… [--once] [--interval <ms>]

A live view of one proxy, or of a fleet with --admin repeated (a row each and a fleet row), refreshed every
second from each admin listener's /metrics. The admin token is read from CORRAL_ADMIN_TOKEN.

  --admin <url>      a corral admin listener, e.g. http://127.0.0.1:9090 (repeat it for a fleet)
  --once             print one frame and exit (0, or 1 when an --admin did not answer)
  --interval <ms>    time between scrapes (default 1000)
  -h, --help         this text

Columns: req/s; hit% (HIT, STALE, REVALIDATED among answers that could come from cache); p99 (ms, the bucket of
corral_request_duration_seconds holding it); origin/s with fills (miss, expired), refreshes and passes apart; shed
(the share shedPercent actually shed, and the flag); memcached nodes and origin servers up.
`

export interface TopIo {
  readonly stdout: { write (text: string): unknown, isTTY?: boolean }
  readonly stderr: { write (text: string): unknown }
  readonly env: Readonly<Record<string, string | undefined>>
  readonly signal?: AbortSignal
}

type Scrape = { readonly snapshot: Snapshot } | { readonly error: string }

async function scrape (admin: string, token: string | undefined): Promise<Scrape> {
  try {
    const res = await fetch(new URL('/metrics', admin), { headers: token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) })
    const text = await res.text()
    if (!res.ok) return { error: `answered ${res.status}` }
    return { snapshot: snapshotOf(parseMetrics(text), Date.now()) }
  } catch (err) {
    const cause = (err as Error).cause
    return { error: (err as Error).name === 'TimeoutError' ? 'no answer in 2 s' : cause instanceof Error ? (cause as NodeJS.ErrnoException).code ?? cause.message : (err as Error).message }
  }
}

function fixed (n: number | undefined, digits = 1): string {
  return n === undefined ? '-' : n === Infinity ? '>10s' : n.toFixed(digits)
}

/** One row of a frame. Pure. */
export function formatRow (name: string, f: Frame): string {
  const fills = (f.originRps.miss ?? 0) + (f.originRps.expired ?? 0)
  const refresh = f.originRps.refresh ?? 0
  const pass = f.originRps.pass ?? 0
  const other = Object.entries(f.originRps).reduce((n, [r, v]) => ['miss', 'expired', 'refresh', 'pass'].includes(r) ? n : n + v, 0)
  const origin = `${fixed(fills + refresh + pass + other)} (${fixed(fills)} ${fixed(refresh)} ${fixed(pass)})`
  const shed = f.shedFlag === undefined || (f.shedFlag === 0 && (f.shedShare ?? 0) === 0) ? 'off' : `${fixed(f.shedShare)}% of ${fixed(f.shedFlag, 0)}%`
  const memcached = f.memcachedTotal === 0 ? 'off' : `${f.memcachedUp}/${f.memcachedTotal} up`
  const origins = f.originsTotal === 0 ? '-' : `${f.originsUp}/${f.originsTotal} up${f.originsUp === 0 ? ' (NONE)' : ''}`
  return [name.padEnd(26), fixed(f.rps).padStart(9), (f.hitRatio === undefined ? '-' : `${(f.hitRatio * 100).toFixed(1)}%`).padStart(7),
    fixed(f.p99Ms).padStart(8), origin.padStart(24), shed.padStart(14), memcached.padStart(10), origins.padStart(12)].join(' ')
}

export const HEADER = ['proxy'.padEnd(26), 'req/s'.padStart(9), 'hit%'.padStart(7), 'p99 ms'.padStart(8),
  'origin/s (fill refr pass)'.padStart(24), 'shed (flag)'.padStart(14), 'memcached'.padStart(10), 'origins'.padStart(12)].join(' ')

/** Every row of one frame: a proxy each, then the fleet's when there are several. */
export function formatFrame (admins: readonly string[], before: readonly Scrape[], after: readonly Scrape[]): { lines: string[], failed: boolean } {
  const lines = [HEADER]
  const frames: Frame[] = []
  let failed = false
  admins.forEach((admin, i) => {
    const a = before[i]
    const b = after[i]
    if (a === undefined || b === undefined || 'error' in a || 'error' in b) {
      failed = true
      const error = b !== undefined && 'error' in b ? b.error : a !== undefined && 'error' in a ? a.error : 'no answer'
      lines.push(`${admin.padEnd(26)} no answer: ${error}`)
      return
    }
    const frame = frameOf(a.snapshot, b.snapshot)
    frames.push(frame)
    lines.push(formatRow(admin, frame))
  })
  if (admins.length > 1 && frames.length > 0) lines.push(formatRow(`fleet (${frames.length} of ${admins.length})`, fleetFrame(frames)))
  return { lines, failed }
}

export async function runTop (args: string[], io: TopIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let values
  try {
    ({ values } = parseArgs({ args, strict: true, options: { admin: { type: 'string', multiple: true }, once: { type: 'boolean', default: false }, interval: { type: 'string', default: '1000' }, help: { type: 'boolean', short: 'h', default: false } } }))
  } catch (err) {
    io.stderr.write(`corral top: ${(err as Error).message}\n\n${TOP_USAGE}`)
    return 2
  }
  if (values.help) {
    io.stdout.write(TOP_USAGE)
    return 0
  }
  const admins = values.admin ?? []
  const interval = Number(values.interval)
  if (admins.length === 0) {
    io.stderr.write(`corral top: --admin is required\n\n${TOP_USAGE}`)
    return 2
  }
  if (!Number.isInteger(interval) || interval < 100 || interval > 60_000) {
    io.stderr.write(`corral top: --interval must be whole milliseconds from 100 to 60000 (got ${values.interval})\n`)
    return 2
  }
  for (const admin of admins) {
    try {
      new URL('/metrics', admin) // eslint-disable-line no-new
    } catch {
      io.stderr.write(`corral top: --admin is not a URL: ${admin}\n`)
      return 2
    }
  }
  const token = io.env['CORRAL_ADMIN_TOKEN']
  const signal = io.signal ?? interruptSignal()
  let before = await Promise.all(admins.map(async (a) => await scrape(a, token)))
  const tty = io.stdout.isTTY === true && !values.once
  while (!signal.aborted) {
    await sleep(interval, signal)
    if (signal.aborted) break
    const after = await Promise.all(admins.map(async (a) => await scrape(a, token)))
    const { lines, failed } = formatFrame(admins, before, after)
    const title = `corral top  ${new Date().toISOString().slice(11, 19)}  every ${interval / 1000}s${values.once ? '' : '; Ctrl-C to quit'}`
    // On a terminal the frame is redrawn in place; in a pipe, frames follow one another.
    io.stdout.write(`${tty ? '\x1b[H\x1b[2J' : ''}${title}\n${lines.join('\n')}\n${tty ? '' : '\n'}`)
    if (values.once) return failed ? 1 : 0
    before = after
  }
  return 0
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}

function interruptSignal (): AbortSignal {
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort())
  return controller.signal
}
