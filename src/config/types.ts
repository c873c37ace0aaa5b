/** The config after validation and defaults (schema.json is the source of every default and description). */
export type FlagValue = boolean | number
export type FlagEntry = FlagValue | { value: FlagValue, note?: string }
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
export type LogFormat = 'json' | 'pretty'
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
  listen: { host: string, port: number, requestTimeoutMs: number, keepAliveTimeoutMs: number, drainDelayMs: number }
  /** `token` is the one in force: CORRAL_ADMIN_TOKEN, else the tokenFile's contents, else the file's own (load.ts). */
  admin: { host: string, port: number, token?: string, tokenFile?: string }
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
  }
  workers: number | 'auto'
  flags: Record<string, FlagEntry>
  routes: RouteConfig[]
  log: { level: LogLevel, access: boolean, format: LogFormat }
}
