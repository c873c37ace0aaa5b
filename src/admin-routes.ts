/**
 * The admin listener's routes: which paths exist and which methods each takes, so a wrong method gets 405 with
 * Allow (RFC 9110 §15.5.6, https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6) instead of a 404 that reads as
 * "no such endpoint" (`GET /purge` was one). Pure.
 */

/** Path → the methods it answers. /healthz is the name Kubernetes and many balancers probe by default. */
const ROUTES: ReadonlyMap<string, readonly string[]> = new Map([
  ['/health', ['GET', 'HEAD']],
  ['/healthz', ['GET', 'HEAD']],
  ['/metrics', ['GET']],
  ['/flags', ['GET']],
  ['/purge', ['POST']],
  ['/purges', ['GET']]
])

export const ENDPOINTS = ['GET /health (or /healthz)', 'GET /metrics', 'GET /flags', 'POST /purge?url= | ?tag= | ?prefix=&host= [&soft=1]', 'GET /purges']

export type { ListedRecord } from './purge/list.js'

export type AdminRoute =
  | { readonly kind: 'route', readonly name: 'health' | 'metrics' | 'flags' | 'purge' | 'purges' }
  | { readonly kind: 'wrong-method', readonly allow: string }
  | { readonly kind: 'not-found' }

export function routeAdmin (method: string, path: string): AdminRoute {
  const methods = ROUTES.get(path)
  if (methods === undefined) return { kind: 'not-found' }
  if (!methods.includes(method)) return { kind: 'wrong-method', allow: methods.join(', ') }
  const name = path === '/healthz' ? 'health' : path.slice(1)
  return { kind: 'route', name: name as 'health' | 'metrics' | 'flags' | 'purge' | 'purges' }
}

/** The health body: serving or draining, and a word when no origin server is up (still 200: the cache still serves). */
export function healthBody (draining: boolean, origins: { up: number, total: number } | undefined): { status: string, origins?: string } {
  if (draining) return { status: 'draining' }
  if (origins === undefined || origins.total === 0 || origins.up > 0) return { status: 'serving' }
  return { status: 'serving', origins: `no origin server is up (0 of ${origins.total}): answering from cache only, misses get 502 or a stale copy` }
}

export { countUp } from './origin/up-count.js'
