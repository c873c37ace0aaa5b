/**
 * shed-routes: the route table, compiled once per config load, and the route a request matches (by path prefix or
 * regex, and host). A route carries its priority, on/off flag, origin group and shed answer.
 */
import type { LoadedConfig } from './config/load.js'
import type { Priority } from './config/types.js'
import { DEFAULT_GROUP } from './config/origin-groups.js'
import { normalizeHost } from './core/target.js'
import { DEFAULT_WHEN_SHED, makeShedAnswer, type ShedAnswer } from './shed-answer.js'

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
