import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { dirname, resolve } from 'node:path'
import { Ajv } from 'ajv'
import { parseWithSchema, readDocument } from './schema-errors.js'
import schema from './schema.json' with { type: 'json' }
import { ConfigError } from '../core/errors.js'
import type { Config } from './types.js'
import { flagValue } from './flags.js'
import { NOT_FORWARDED_ON_FILL } from '../core/headers.js'
import { assertOriginGroups } from '../origin/groups.js'

export interface LoadedConfig {
  readonly config: Config
  /** Short hash of the file's bytes: tells which edit is in force. */
  readonly version: string
  /** Contents of each route's `whenShed.file`, read once here so a shed costs no I/O. */
  readonly shedPages: ReadonlyMap<number, Buffer>
}

// verbose: errors carry their parentSchema, where a schema's own errorMessage lives. strictNumbers: JSON reads 1e400
// as Infinity, which ajv otherwise takes for an integer (Infinity % 1 is NaN, and !NaN is true): an Infinity
// origin.timeoutMs passed `corral check` and a reload, then failed every origin request (undici: "invalid
// headersTimeout"). Every duration and size also has a finite maximum in the schema (setTimeout runs anything past
// 2^31-1 ms after 1 ms; memcached reads an expiry past 30 days as a date).
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, strictNumbers: true, verbose: true })
const validate = ajv.compile(schema)

/** Bytes → config, or a ConfigError naming the key path and the reason. Pure but for reading whenShed files. */
export function parseConfig (text: string, baseDir = process.cwd()): LoadedConfig {
  const config = parseWithSchema(text, validate, 'config', ConfigError) as Config
  assertSemantics(config)
  return { config, version: configVersion(text), shedPages: readShedPages(config, baseDir) }
}

/** The `version` of a config: a short hash of its bytes (the watcher skips an unchanged file with it). */
export function configVersion (text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 12)
}

export function loadConfigFile (path: string): LoadedConfig {
  return parseConfig(readDocument(path, ConfigError), dirname(resolve(path)))
}

const BUILT_IN_FLAGS = new Set(Object.keys(schema.properties.flags.properties))

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/i

export function isLoopbackHost (host: string): boolean {
  return LOOPBACK.test(host)
}

/**
 * A reload may not leave the admin listener open: admin.host takes effect on restart only, but admin.token is read
 * from the newest config on every request. So an edit is checked against the host the listener is actually bound to
 * (`boundHost`, from the config it started with), not only against the edit's own admin.host.
 */
export function assertAdminTokenForBoundHost (boundHost: string, next: Config): void {
  if (!isLoopbackHost(boundHost) && next.admin.token === undefined) {
    throw new ConfigError('admin.token', `is required while the admin listener is bound to ${boundHost}, which is not a loopback address (admin.host takes effect on restart only)`)
  }
}

/** Checks a schema cannot express. */
function assertSemantics (config: Config): void {
  // Purge and flags must not be open to whoever can reach the port.
  if (!isLoopbackHost(config.admin.host) && config.admin.token === undefined) {
    throw new ConfigError('admin.token', `is required when admin.host (${config.admin.host}) is not a loopback address`)
  }
  assertOriginGroups(config)
  assertForwardRequestHeaders(config.cache.forwardRequestHeaders)
  config.routes.forEach((route, i) => {
    if (route.match.startsWith('~')) {
      try {
        // eslint-disable-next-line no-new
        new RegExp(route.match.slice(1))
      } catch (err) {
        throw new ConfigError(`routes[${i}].match`, `invalid regular expression: ${(err as Error).message}`)
      }
    } else if (!route.match.startsWith('/')) {
      throw new ConfigError(`routes[${i}].match`, 'must start with / (a path prefix) or ~ (a regular expression)')
    }
    if (route.flag !== undefined) {
      // A route tied to cacheOnly or trace would go dark whenever that switch is off: surely a mix-up.
      if (BUILT_IN_FLAGS.has(route.flag)) throw new ConfigError(`routes[${i}].flag`, `"${route.flag}" is a built-in flag; name a route switch of your own`)
      const flag = Object.hasOwn(config.flags, route.flag) ? config.flags[route.flag] : undefined
      const value = flag === undefined ? undefined : flagValue(flag)
      if (typeof value !== 'boolean') throw new ConfigError(`routes[${i}].flag`, `"${route.flag}" must name a boolean flag in flags`)
    }
  })
}

/** Only fields corral would drop may be allowed back: any other is forwarded already, so a name here is a typo. */
function assertForwardRequestHeaders (names: readonly string[]): void {
  names.forEach((name, i) => {
    if (!NOT_FORWARDED_ON_FILL.has(name.toLowerCase())) {
      throw new ConfigError(`cache.forwardRequestHeaders[${i}]`, `"${name}" is not a field corral drops on fills (those are ${[...NOT_FORWARDED_ON_FILL].join(', ')})`)
    }
  })
}

function readShedPages (config: Config, baseDir: string): Map<number, Buffer> {
  const pages = new Map<number, Buffer>()
  config.routes.forEach((route, i) => {
    const file = route.whenShed.file
    if (file === undefined) return
    try {
      pages.set(i, readFileSync(resolve(baseDir, file)))
    } catch (err) {
      throw new ConfigError(`routes[${i}].whenShed.file`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? ''}`, { cause: err })
    }
  })
  return pages
}
