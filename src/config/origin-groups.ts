/**
 * config/origin-groups: the origin groups a config names, resolved once when it loads: the default group "origin" (from
 * origin.url or origin.servers) and every group under `origins`, each server as a parsed URL with a weight. Also the
 * checks a schema cannot express (a group named by a route must exist, a server appears once per group).  [pure]
 */
import type { Config, HealthConfig, ServerConfig } from './types.js'
import { ConfigError } from '../core/errors.js'

/** The default group's name: routes without `origin` use it, and metrics and /flags show it. */
export const DEFAULT_GROUP = 'origin'

export interface ServerSpec {
  /** The server as configured, without a trailing slash: its identity across reloads, and its metrics label. */
  readonly url: string
  /** scheme://host:port, what its pool connects to. */
  readonly origin: string
  /** The URL's path prefix ('' for none), put before every request path. */
  readonly basePath: string
  readonly weight: number
}

export interface GroupSpec {
  readonly name: string
  readonly servers: readonly ServerSpec[]
  readonly health: HealthConfig
}

/** Every group of `config`, the default group first. Throws a ConfigError naming the key of a bad server URL. */
export function resolveOriginGroups (config: Config): GroupSpec[] {
  const { url, servers, health } = config.origin
  if (url === undefined && servers === undefined) throw new ConfigError('origin.url', 'is required (or origin.servers, for several servers)')
  if (url !== undefined && servers !== undefined) throw new ConfigError('origin.servers', 'set origin.url (one server) or origin.servers, not both')
  const groups: GroupSpec[] = [{
    name: DEFAULT_GROUP,
    servers: url !== undefined ? [parseServer(url, 'origin.url')] : parseServers(servers ?? [], 'origin.servers'),
    health
  }]
  for (const [name, group] of Object.entries(config.origins)) {
    if (name === DEFAULT_GROUP) throw new ConfigError(`origins.${name}`, `"${DEFAULT_GROUP}" is the default group: configure it under origin`)
    groups.push({ name, servers: parseServers(group.servers, `origins.${name}.servers`), health: group.health })
  }
  return groups
}

/** Checks a schema cannot express: every server URL usable, and every route's `origin` a group that exists. */
export function assertOriginGroups (config: Config): void {
  const names = new Set(resolveOriginGroups(config).map((g) => g.name))
  config.routes.forEach((route, i) => {
    if (!names.has(route.origin)) {
      throw new ConfigError(`routes[${i}].origin`, `names no origin group "${route.origin}" (known: ${[...names].join(', ')})`)
    }
  })
}

function parseServers (servers: readonly ServerConfig[], key: string): ServerSpec[] {
  const seen = new Set<string>()
  return servers.map((server, i) => {
    const spec = typeof server === 'string'
      ? parseServer(server, `${key}[${i}]`)
      : parseServer(server.url, `${key}[${i}].url`, server.weight ?? 1)
    // (ajv fills no defaults inside oneOf, hence the ?? 1.) Two entries for one server would double its share silently: a weight says that honestly.
    if (seen.has(spec.url)) throw new ConfigError(`${key}[${i}]`, `${spec.url} is listed twice (give it a weight instead)`)
    seen.add(spec.url)
    return spec
  })
}

function parseServer (text: string, key: string, weight = 1): ServerSpec {
  let url: URL
  try {
    url = new URL(text)
    if (url.search !== '' || url.hash !== '') throw new Error('must not have a query or fragment')
  } catch (err) {
    throw new ConfigError(key, `not a usable URL (${(err as Error).message})`)
  }
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  return { url: url.origin + basePath, origin: url.origin, basePath, weight }
}
