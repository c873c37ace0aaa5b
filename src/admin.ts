/**
 * admin: the operator's listener, loopback by default: /health, /metrics, /flags, /purge. With `admin.token` set,
 * every request needs `Authorization: Bearer <token>`.  [I/O]
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { timingSafeEqual } from 'node:crypto'
import type { Metrics } from './metrics.js'
import type { Logger } from './log.js'

export interface AdminDeps {
  readonly metrics: Metrics
  readonly logger: Logger
  token: () => string | undefined
  isDraining: () => boolean
  flags: () => unknown
  purge: (url: string, host: string | undefined) => Promise<void>
}

export function makeAdminServer (deps: AdminDeps): Server {
  return createServer((req, res) => {
    handleAdmin(deps, req, res).catch((err: unknown) => {
      deps.logger.error({ err }, 'admin request failed')
      if (!res.headersSent) json(res, 500, { error: 'internal error' })
    })
  })
}

export function tokenMatches (expected: string | undefined, presented: string | undefined): boolean {
  if (expected === undefined) return true
  if (presented === undefined) return false
  const a = Buffer.from(expected)
  const b = Buffer.from(presented)
  return a.length === b.length && timingSafeEqual(a, b)
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
      const text = await deps.metrics.registry.metrics()
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType })
      res.end(text)
      return
    }
    case 'GET /flags':
      return json(res, 200, deps.flags())
    case 'POST /purge': {
      const target = url.searchParams.get('url')
      if (target === null || target === '') return json(res, 400, { error: 'missing ?url=<absolute url or path>' })
      await deps.purge(target, url.searchParams.get('host') ?? undefined)
      deps.logger.info({ url: target }, 'purged')
      return json(res, 200, { purged: target })
    }
    default:
      return json(res, 404, { error: 'not found', endpoints: ['GET /health', 'GET /metrics', 'GET /flags', 'POST /purge?url='] })
  }
}

function json (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n'
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}
