/** The config after validation and defaults (schema.json is the source of every default and description). */
export type FlagValue = boolean | number
export type FlagEntry = FlagValue | { value: FlagValue, note?: string }
export type Priority = 'critical' | 'normal' | 'sheddable'

export interface WhenShedConfig {
  status: number
  retryAfter: number
  body?: string
  file?: string
  contentType?: string
}

export interface RouteConfig {
  match: string
  flag?: string
  priority: Priority
  whenShed: WhenShedConfig
}

export interface Config {
  listen: { host: string, port: number, requestTimeoutMs: number, keepAliveTimeoutMs: number }
  admin: { host: string, port: number, token?: string }
  origin: {
    url: string
    timeoutMs: number
    connections: number
    retries: number
    maxInFlight: number
    queueSize: number
    queueTimeoutMs: number
  }
  cache: {
    memory: { maxBytes: number, maxTtlSeconds: number }
    maxObjectBytes: number
    graceSeconds: number
    staleIfErrorSeconds: number
    keepStaleSeconds: number
    heuristicFraction: number
    hitForPassSeconds: number
    storeSetCookie: boolean
    key: { sortQuery: boolean, ignoreQueryParams: string[], includeHost: boolean }
    memcached: {
      enabled: boolean
      servers: string[]
      timeoutMs: number
      retryDownMs: number
      prefix: string
      maxItemBytes: number
      leaseTtlMs?: number
    }
    tags: { headers: string[], removeFromResponse: boolean }
    purge: { pollIntervalMs: number, softStaleSeconds: number, recordTtlSeconds: number }
  }
  workers: number | 'auto'
  flags: Record<string, FlagEntry>
  routes: RouteConfig[]
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent', access: boolean }
}
