import { extname } from 'node:path'
import type { LoadedConfig } from './config/load.js'
import schema from './config/schema.json' with { type: 'json' }
import type { Priority, WhenShedConfig } from './config/types.js'
import type { Flags } from './config/flags.js'
import { DEFAULT_GROUP } from './origin/groups.js'
import { normalizeHost } from './key.js'
import type { ShedShare } from './shed-share.js'

/** Why a request was not served normally: the label of the sheds-by-reason metric and the access line. */
export type ShedReason = 'route-off' | 'cache-only' | 'shed-percent' | 'origin-saturated'

/**
 * serve: the normal pipeline. cache-only: a cached copy of any age may answer, a miss gets the route's
 * shed answer and nothing reaches the origin. reject: the shed answer, without a cache lookup.
 */
export type ShedDecision =
  | { readonly action: 'serve' }
  | { readonly action: 'cache-only', readonly reason: ShedReason }
  | { readonly action: 'reject', readonly reason: ShedReason }

/** A shed response ready to write: `headers` is a flat `[name, value, …]` list as `res.writeHead` takes it. */
export interface ShedAnswer {
  readonly status: number
  readonly headers: readonly string[]
  readonly body: Buffer
}

export interface CompiledRoute {
  /** Position in config.routes; -1 for the default route. */
  readonly index: number
  readonly match: string
  readonly priority: Priority
  /** Name of the route's on/off flag, or null. */
  readonly flag: string | null
  /** The origin group its misses and passes go to (routes[].origin; "origin" by default). */
  readonly origin: string
  /** Only requests for this host (as keys spell it); null: any host. */
  readonly host: string | null
  readonly answer: ShedAnswer
}

export interface RouteTable {
  readonly routes: readonly CompiledRoute[]
  readonly fallback: CompiledRoute
  readonly prefixes: ReadonlyArray<{ readonly prefix: string, readonly route: CompiledRoute }>
  readonly regexes: ReadonlyArray<{ readonly re: RegExp, readonly route: CompiledRoute }>
}

export interface ShedLoad {
  /** OriginLimiter.saturated: every origin slot taken and the wait queue full. */
  readonly originSaturated: boolean
  /** The traffic mix and the share shed so far: what shedPercent is a share of (shed-share.ts). */
  readonly share: ShedShare
}

// Decisions are shared constants: deciding costs no allocation, and callers may compare by identity.
const SERVE: ShedDecision = Object.freeze({ action: 'serve' })
const REJECT_ROUTE_OFF: ShedDecision = Object.freeze({ action: 'reject', reason: 'route-off' })
const CACHE_ONLY_FLAG: ShedDecision = Object.freeze({ action: 'cache-only', reason: 'cache-only' })
const CACHE_ONLY_PERCENT: ShedDecision = Object.freeze({ action: 'cache-only', reason: 'shed-percent' })
const CACHE_ONLY_SATURATED: ShedDecision = Object.freeze({ action: 'cache-only', reason: 'origin-saturated' })

const DEFAULT_BODY = 'Service temporarily unavailable\n'
// The default route answers like a route with an empty whenShed; schema.json stays the one home of those defaults.
const WHEN_SHED_SCHEMA = schema.properties.routes.items.properties.whenShed.properties
const DEFAULT_WHEN_SHED: WhenShedConfig = { status: WHEN_SHED_SCHEMA.status.default, retryAfter: WHEN_SHED_SCHEMA.retryAfter.default }

const TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml'
}

/** Builds the route table once per config load: regexes compiled, shed answers encoded. */
export function compileRoutes (loaded: LoadedConfig): RouteTable {
  const routes: CompiledRoute[] = []
  const prefixes: Array<{ prefix: string, route: CompiledRoute }> = []
  const regexes: Array<{ re: RegExp, route: CompiledRoute }> = []
  loaded.config.routes.forEach((config, index) => {
    const route: CompiledRoute = Object.freeze({
      index,
      match: config.match,
      priority: config.priority,
      flag: config.flag ?? null,
      origin: config.origin,
      host: config.host === undefined ? null : normalizeHost(config.host),
      answer: makeShedAnswer(config.whenShed, loaded.shedPages.get(index))
    })
    routes.push(route)
    // load.ts has already rejected a regex that does not compile, naming routes[i].match.
    if (config.match.startsWith('~')) regexes.push({ re: new RegExp(config.match.slice(1)), route })
    else prefixes.push({ prefix: config.match, route })
  })
  const fallback: CompiledRoute = Object.freeze({
    // '*' names the default route in logs, metrics labels and traces.
    index: -1, match: '*', priority: 'normal', flag: null, origin: DEFAULT_GROUP, host: null, answer: makeShedAnswer(DEFAULT_WHEN_SHED, undefined)
  })
  return { routes, fallback, prefixes, regexes }
}

/**
 * First matching route in config order, else the default route. `path` is the request path without the
 * query, `host` the Host as keys spell it ('' without one); a route with a `host` matches that host only. Prefixes
 * are tried first (a startsWith loop is far cheaper than a regex); only the regexes listed before the first
 * matching prefix can still win, so the others are never run.
 */
export function matchRoute (table: RouteTable, path: string, host = ''): CompiledRoute {
  let found = table.fallback
  let foundAt = Number.POSITIVE_INFINITY
  for (const { prefix, route } of table.prefixes) {
    if (path.startsWith(prefix) && (route.host === null || route.host === host)) {
      found = route
      foundAt = route.index
      break
    }
  }
  for (const { re, route } of table.regexes) {
    if (route.index > foundAt) break
    if ((route.host === null || route.host === host) && re.test(path)) return route
  }
  return found
}

/**
 * May this request be served, served only from cache, or refused? Checked in order of operator intent:
 * a route switched off is refused outright; cacheOnly applies to every route (it promises that nothing
 * reaches the origin); shedPercent and a saturated origin spare critical routes and, since a stale page
 * beats an error page, only turn requests into cache-only.
 *
 * shedPercent is a share of every request that gets here, so each one is counted into the mix (`load.share`).
 */
export function decideShed (route: CompiledRoute, flags: Flags, load: ShedLoad): ShedDecision {
  if (route.flag !== null && flags.switches.get(route.flag) === false) return REJECT_ROUTE_OFF
  const byShare = load.share.decide(route.priority, flags.cacheOnly ? 0 : flags.shedPercent)
  if (flags.cacheOnly) return CACHE_ONLY_FLAG
  if (route.priority === 'critical') return SERVE
  if (byShare) return CACHE_ONLY_PERCENT
  if (load.originSaturated) return CACHE_ONLY_SATURATED
  return SERVE
}

function guessContentType (body: Buffer, file: string | undefined): string {
  const byExtension = file === undefined ? undefined : TYPES_BY_EXTENSION[extname(file).toLowerCase()]
  if (byExtension !== undefined) return byExtension
  return body.toString('latin1', 0, 64).trimStart().startsWith('<') ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8'
}

function makeShedAnswer (whenShed: WhenShedConfig, page: Buffer | undefined): ShedAnswer {
  const body = page ?? Buffer.from(whenShed.body ?? DEFAULT_BODY)
  const contentType = whenShed.contentType ?? guessContentType(body, whenShed.file)
  return Object.freeze({
    status: whenShed.status,
    headers: Object.freeze([
      'retry-after', String(whenShed.retryAfter),
      'content-type', contentType,
      'content-length', String(body.length),
      // A shed answer is about this moment's load: no browser or CDN may keep it.
      'cache-control', 'no-store',
      'x-cache', 'SHED'
    ]),
    body
  })
}
