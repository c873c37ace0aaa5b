/**
 * `corral purge --list`: the purge records in force on one proxy (GET /purges), one line each, oldest first, like
 * Varnish's ban.list.  [I/O]
 */
import type { ListedRecord } from './list.js'

interface Io {
  readonly stdout: { write (text: string): unknown }
  readonly stderr: { write (text: string): unknown }
  readonly env: Readonly<Record<string, string | undefined>>
}

export async function listPurges (admin: string, io: Io): Promise<number> {
  let endpoint: URL
  try {
    endpoint = new URL('/purges', admin)
  } catch {
    io.stderr.write(`corral purge: --admin is not a URL: ${admin}\n`)
    return 2
  }
  const token = io.env['CORRAL_ADMIN_TOKEN']
  let response: Response
  try {
    response = await fetch(endpoint, { headers: token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` } })
  } catch (err) {
    const cause = (err as Error).cause
    io.stderr.write(`corral purge: ${endpoint.origin}: ${cause instanceof Error ? cause.message : (err as Error).message}\n`)
    return 1
  }
  const text = await response.text()
  if (!response.ok) {
    io.stderr.write(`corral purge: ${response.status}: ${text}`)
    return 1
  }
  const body = JSON.parse(text) as { count: number, records: ListedRecord[] }
  io.stdout.write(formatRecords(body.records))
  return 0
}

/** One line per record: age, kind, mode, what it names (and the host a tag is limited to). Pure. */
export function formatRecords (records: readonly ListedRecord[]): string {
  if (records.length === 0) return 'no purge records in force\n'
  const lines = records.map((r) => [`${formatAge(r.ageSeconds)}`.padStart(7), r.kind.padEnd(6), r.mode.padEnd(4), r.value + (r.host === null ? '' : ` (host ${r.host})`)].join('  '))
  return `    age  kind    mode  names\n${lines.join('\n')}\n${records.length} record${records.length === 1 ? '' : 's'} in force\n`
}

function formatAge (seconds: number): string {
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`
  return `${Math.round(seconds / 3600)}h`
}
