import type { LogFormat, LogLevel } from '../core/log-options.js'

export type { LogFormat, LogLevel }

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
  /** The origin group: "origin" (the default group) or a name under `origins`. */
  origin: string
  /** Only requests for this host; any host when absent. */
  host?: string
  flag?: string
  priority: Priority
  whenShed: WhenShedConfig
}

/** An origin server: a base URL, or a URL with a weight (default 1). */
export type ServerConfig = string | { url: string, weight?: number }

/** A group's health checks (schema.json definitions.health). */
export interface HealthConfig {
  path?: string
  intervalMs: number
  timeoutMs: number
  upAfter: number
  downAfter: number
  failuresToEject: number
  ejectMs: number
  maxEjectMs: number
  errorRatePercent: number
  errorWindowRequests: number
  slowStartMs: number
}

/** cache.compress (schema.json has each key's why and cost). */
export interface CompressConfig {
  enabled: boolean
  encodings: Array<'br' | 'gzip' | 'zstd'>
  types: string[]
  minBytes: number
  maxBytes: number
  brotliQuality: number
  gzipLevel: number
  zstdLevel: number
}

export interface Config {
  listen: { host: string, port: number, requestTimeoutMs: number, headersTimeoutMs: number, keepAliveTimeoutMs: number, firstByteTimeoutMs: number, maxUnwrittenBytes: number, drainDelayMs: number }
  /** `token` is the one in force: CORRAL_ADMIN_TOKEN, else the tokenFile's contents, else the file's own (load.ts). */
  admin: { host: string, port: number, token?: string, tokenFile?: string }
  origin: {
    url?: string
    servers?: ServerConfig[]
    health: HealthConfig
    timeoutMs: number
    fillBodyTimeoutMs: number
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
    targetedFields: string[]
    storeSetCookie: boolean
    forwardRequestHeaders: string[]
    credentialHeaders: string[]
    dropUnderscoreHeaders: boolean
    requestCookies: 'origin-decides' | 'pass'
    ignoredCookies: string[]
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
    compress: CompressConfig
    purge: { pollIntervalMs: number, softStaleSeconds: number, recordTtlSeconds: number }
  }
  origins: Record<string, { servers: ServerConfig[], health: HealthConfig }>
  workers: number | 'auto'
  flags: Record<string, FlagEntry>
  routes: RouteConfig[]
  log: { level: LogLevel, access: boolean, format: LogFormat }
}
