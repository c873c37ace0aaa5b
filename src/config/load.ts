import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { dirname, resolve } from 'node:path'
import { Ajv } from 'ajv'
import { failWith, fileErrorText, parseWithSchema, readDocument, type Problem } from './schema-errors.js'
import schema from './schema.json' with { type: 'json' }
import { ConfigError } from '../core/errors.js'
import type { Config } from './types.js'
import { flagValue } from './flags.js'
import { NOT_FORWARDED_ON_FILL } from '../core/origin-headers.js'
import { assertOriginGroups } from './origin-groups.js'

export interface LoadedConfig {
  readonly config: Config
  /**
   * Short hash of the effective config (the file with every default filled in, before the admin token is taken from
   * the environment or its file): tells which edit is in force. Reformatting, reordering keys or writing out a
   * default is not a change.
   */
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

/** The environment variable an admin token may come from, outside the watched file. */
const ADMIN_TOKEN_ENV = 'CORRAL_ADMIN_TOKEN'

/**
 * Bytes → config, or a ConfigError naming the key path and the reason (every problem at once: `problemsOf`).
 * Pure but for reading whenShed files and admin.tokenFile, and `env` (CORRAL_ADMIN_TOKEN).
 */
export function parseConfig (text: string, baseDir = process.cwd(), env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const config = parseWithSchema(text, validate, 'config', ConfigError) as Config
  const version = effectiveVersion(config)
  const problems: Problem[] = []
  resolveAdminToken(config, baseDir, env, problems)
  checkSemantics(config, problems)
  const shedPages = readShedPages(config, baseDir, problems)
  if (problems.length > 0) throw failWith(ConfigError, problems)
  return { config, version, shedPages }
}

/**
 * The `version` of a config text: the hash of its effective config when it is valid against the schema, else of its
 * bytes (the watcher skips a file whose version it has already applied or refused, before the full parse).
 */
export function configVersion (text: string): string {
  try {
    const raw: unknown = JSON.parse(text)
    if (validate(raw)) return effectiveVersion(raw as unknown as Config)
  } catch {}
  return createHash('sha1').update(text).digest('hex').slice(0, 12)
}

function effectiveVersion (config: Config): string {
  return createHash('sha1').update(canonicalJson(config)).digest('hex').slice(0, 12)
}

/** JSON with object keys sorted at every depth: the same config in any key order gives the same text. */
function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/**
 * The admin token in force, so it can stay out of a file that editors, diffs and ConfigMaps show: CORRAL_ADMIN_TOKEN
 * (set where the process starts, it wins), else admin.tokenFile's contents (a mounted secret), else admin.token.
 */
function resolveAdminToken (config: Config, baseDir: string, env: NodeJS.ProcessEnv, problems: Problem[]): void {
  const fromEnv = env[ADMIN_TOKEN_ENV]
  let token: string | undefined
  let keyPath = 'admin.token'
  if (fromEnv !== undefined && fromEnv !== '') {
    token = fromEnv.trim()
    keyPath = ADMIN_TOKEN_ENV
  } else if (config.admin.tokenFile !== undefined) {
    keyPath = 'admin.tokenFile'
    try {
      token = readFileSync(resolve(baseDir, config.admin.tokenFile), 'utf8').trim()
    } catch (err) {
      problems.push({ keyPath, reason: `cannot read ${config.admin.tokenFile}: ${fileErrorText(err)}` })
      return
    }
  } else {
    return
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    problems.push({ keyPath, reason: `the token must be at least ${MIN_TOKEN_LENGTH} characters long (got ${token.length})` })
    return
  }
  config.admin.token = token
}

const MIN_TOKEN_LENGTH = schema.properties.admin.properties.token.minLength

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

/** Checks a schema cannot express, each failure added to `problems`. */
function checkSemantics (config: Config, problems: Problem[]): void {
  // Purge and flags must not be open to whoever can reach the port.
  if (!isLoopbackHost(config.admin.host) && config.admin.token === undefined) {
    problems.push({ keyPath: 'admin.token', reason: `is required when admin.host (${config.admin.host}) is not a loopback address: set it, admin.tokenFile or ${ADMIN_TOKEN_ENV}` })
  }
  collect(problems, () => { assertOriginGroups(config) })
  checkForwardRequestHeaders(config.cache.forwardRequestHeaders, problems)
  config.routes.forEach((route, i) => {
    if (route.match.startsWith('~')) {
      try {
        // eslint-disable-next-line no-new
        new RegExp(route.match.slice(1))
      } catch (err) {
        problems.push({ keyPath: `routes[${i}].match`, reason: `invalid regular expression: ${(err as Error).message}` })
      }
    } else if (!route.match.startsWith('/')) {
      problems.push({ keyPath: `routes[${i}].match`, reason: 'must start with / (a path prefix) or ~ (a regular expression)' })
    }
    if (route.flag !== undefined) {
      // A route tied to cacheOnly or trace would go dark whenever that switch is off: surely a mix-up.
      if (BUILT_IN_FLAGS.has(route.flag)) {
        problems.push({ keyPath: `routes[${i}].flag`, reason: `"${route.flag}" is a built-in flag; name a route switch of your own` })
        return
      }
      const flag = Object.hasOwn(config.flags, route.flag) ? config.flags[route.flag] : undefined
      const value = flag === undefined ? undefined : flagValue(flag)
      if (typeof value !== 'boolean') problems.push({ keyPath: `routes[${i}].flag`, reason: `"${route.flag}" must name a boolean flag in flags` })
    }
  })
}

/** A check written as an assertion (it throws ConfigError) adds its failure to `problems` like the others. */
function collect (problems: Problem[], check: () => void): void {
  try {
    check()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push({ keyPath: err.keyPath, reason: err.message.startsWith(`${err.keyPath}: `) ? err.message.slice(err.keyPath.length + 2) : err.message })
  }
}

/** Only fields corral would drop may be allowed back: any other is forwarded already, so a name here is a typo. */
function checkForwardRequestHeaders (names: readonly string[], problems: Problem[]): void {
  names.forEach((name, i) => {
    if (!NOT_FORWARDED_ON_FILL.has(name.toLowerCase())) {
      problems.push({ keyPath: `cache.forwardRequestHeaders[${i}]`, reason: `"${name}" is not a field corral drops on fills (those are ${[...NOT_FORWARDED_ON_FILL].join(', ')})` })
    }
  })
}

function readShedPages (config: Config, baseDir: string, problems: Problem[]): Map<number, Buffer> {
  const pages = new Map<number, Buffer>()
  config.routes.forEach((route, i) => {
    const file = route.whenShed.file
    if (file === undefined) return
    try {
      pages.set(i, readFileSync(resolve(baseDir, file)))
    } catch (err) {
      problems.push({ keyPath: `routes[${i}].whenShed.file`, reason: `cannot read ${file}: ${fileErrorText(err)}` })
    }
  })
  return pages
}
