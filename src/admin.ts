/**
 * admin: the operator's listener, loopback by default: /health, /metrics, /flags, /purge. With `admin.token` set,
 * every request needs `Authorization: Bearer <token>`.  [I/O]
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tokenMatches } from './core/admin-token.js'
import type { Logger } from './core/log.js'
import type { ServerReport } from './origin/group.js'

export interface AdminDeps {
  /** Prometheus text (a cluster primary aggregates its workers'). */
  readonly metricsText: () => Promise<string>
  readonly logger: Logger
  token: () => string | undefined
  isDraining: () => boolean
  flags: () => FlagsReport
  /**
   * Answers `POST /purge` from its query (purge/admin-route.ts answerPurge over the purger): the listener only relays
   * the status and body, so it needs nothing of purging.
   */
  purge: (params: URLSearchParams) => Promise<{ readonly status: number, readonly body: unknown }>
}

/** GET /flags: what is in force, and whether the file on disk was rejected. */
export interface FlagsReport {
  readonly version: string
  readonly loadedAt: string
  readonly file: string | null
  /** `at` in ISO 8601, as every time corral shows. */
  readonly rejected: null | { message: string, keyPath: string, at: string }
  readonly flags: Record<string, { value: unknown, note: string | null }>
  readonly routes: ReadonlyArray<{ match: string, priority: string, flag: string | null }>
  readonly origin: { inFlight: number, queued: number, limit: number | null }
  readonly memcached: 'off' | readonly string[]
  /** Each node as this process sees it; absent where no store runs (a cluster primary: ask a worker's metrics). */
  readonly memcachedNodes?: 'off' | ReadonlyArray<{ server: string, state: 'up' | 'down', downSince: string | null, errors: number }>
  /** Each origin group's servers and their state (absent from a cluster primary: each worker checks health itself). */
  readonly origins?: Record<string, readonly ServerReport[]>
}

/** The watcher's refusal with its time as ISO 8601 (the watcher keeps epoch milliseconds). */
export function isoRejected (rejected: { message: string, keyPath: string, at: number } | null): FlagsReport['rejected'] {
  return rejected === null ? null : { ...rejected, at: new Date(rejected.at).toISOString() }
}

export function makeAdminServer (deps: AdminDeps): Server {
  return createServer((req, res) => {
    handleAdmin(deps, req, res).catch((err: unknown) => {
      deps.logger.error({ err }, 'admin request failed')
      if (!res.headersSent) json(res, 500, { error: 'internal error' })
    })
  })
}

async function handleAdmin (deps: AdminDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const auth = req.headers.authorization
  const presented = auth?.startsWith('Bearer ') === true ? auth.slice(7).trim() : undefined
  if (!tokenMatches(deps.token(), presented)) {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="corral admin"', 'content-type': 'application/json' })
    res.end('{"error":"admin token required"}\n')
    return
  }
  const url = new URL(req.url ?? '/', 'http://admin')
  const route = `${req.method ?? 'GET'} ${url.pathname}`
  switch (route) {
    case 'GET /health':
      return deps.isDraining() ? json(res, 503, { status: 'draining' }) : json(res, 200, { status: 'serving' })
    case 'GET /metrics': {
      const text = await deps.metricsText()
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE })
      res.end(text)
      return
    }
    case 'GET /flags':
      return json(res, 200, deps.flags())
    case 'POST /purge': {
      const answer = await deps.purge(url.searchParams)
      return json(res, answer.status, answer.body)
    }
    default:
      return json(res, 404, { error: 'not found', endpoints: ['GET /health', 'GET /metrics', 'GET /flags', 'POST /purge?url= | ?tag= | ?prefix=&host= [&soft=1]'] })
  }
}

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

function json (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n'
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}
