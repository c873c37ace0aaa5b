/**
 * purge/cli: `corral purge --admin <url> (--url U | --tag T | --prefix P) [--host H] [--soft]`. Sends one POST /purge to
 * a corral admin listener (the token from CORRAL_ADMIN_TOKEN, as every subcommand reads it) and prints its JSON answer.
 *   [I/O]
 */
import { parseArgs } from 'node:util'

export interface PurgeIo {
  readonly stdout: { write (text: string): unknown }
  readonly stderr: { write (text: string): unknown }
  readonly env: Readonly<Record<string, string | undefined>>
}

export const USAGE = `Usage:
  corral purge --admin <url> (--url <url> | --tag <tag> | --prefix <path>) [--host <host>] [--soft]
  corral purge --admin <url> --list

Purges cached pages through a corral admin listener (POST /purge); with memcached the purge is in force on
every proxy sharing it within a second. The admin token is read from CORRAL_ADMIN_TOKEN.

Options:
  --admin <url>     corral admin base URL, e.g. http://127.0.0.1:9090 (required)
  --url <url>       one page (and its variants): an absolute URL, or a path with --host
  --tag <tag>       every page the origin tagged so (Surrogate-Key / Cache-Tag); repeatable, or comma-separated
  --prefix <path>   every page whose path starts so; needs --host when keys include the host
  --host <host>     the host for a path-only --url, a --prefix, or to limit a --tag to one site
  --soft            mark stale instead of deleting: the next request is answered at once from the stale copy
                    while one coalesced refresh goes to the origin
  --list            the purge records in force on that proxy (GET /purges): age, kind, mode, what they name
  -h, --help        This text

Exit codes: 0 purged; 1 the admin refused or could not be reached; 2 usage error.
`

export async function runPurgeCli (args: string[], io: PurgeIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let values
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        admin: { type: 'string' },
        url: { type: 'string' },
        tag: { type: 'string', multiple: true },
        prefix: { type: 'string' },
        host: { type: 'string' },
        soft: { type: 'boolean', default: false },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false }
      }
    }))
  } catch (err) {
    io.stderr.write(`corral purge: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (values.help) {
    io.stdout.write(USAGE)
    return 0
  }
  const kinds = [values.url, values.tag, values.prefix].filter((v) => v !== undefined).length
  if (values.list && values.admin !== undefined && kinds === 0) {
    const { listPurges } = await import('./list-cli.js')
    return await listPurges(values.admin, io)
  }
  if (values.admin === undefined || kinds !== 1) {
    io.stderr.write(`corral purge: needs --admin and exactly one of --url, --tag, --prefix (or --list alone)\n${USAGE}`)
    return 2
  }
  const query = makePurgeQuery(values)
  let endpoint: URL
  try {
    endpoint = new URL(`/purge?${query.toString()}`, values.admin)
  } catch {
    io.stderr.write(`corral purge: --admin is not a URL: ${values.admin}\n`)
    return 2
  }
  const token = io.env['CORRAL_ADMIN_TOKEN']
  let response: Response
  try {
    response = await fetch(endpoint, { method: 'POST', headers: token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` } })
  } catch (err) {
    io.stderr.write(`corral purge: ${endpoint.origin}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}\n`)
    return 1
  }
  const text = await response.text()
  if (response.ok) {
    io.stdout.write(text)
    return 0
  }
  io.stderr.write(`corral purge: ${response.status}: ${text}`)
  return 1
}

/** The admin query for the parsed flags: one kind, --tag repeated as ?tag= repeated. */
export function makePurgeQuery (values: { url?: string | undefined, tag?: string[] | undefined, prefix?: string | undefined, host?: string | undefined, soft?: boolean | undefined }): URLSearchParams {
  const query = new URLSearchParams()
  if (values.url !== undefined) query.set('url', values.url)
  for (const tag of values.tag ?? []) query.append('tag', tag)
  if (values.prefix !== undefined) query.set('prefix', values.prefix)
  if (values.host !== undefined) query.set('host', values.host)
  if (values.soft === true) query.set('soft', '1')
  return query
}
