/**
 * The `corral` subcommands (serve, check; spike lives in spike/cli.ts), loaded by cli.ts once it knows this process
 * is the one that serves. Each returns its exit code: 0 done, 1 failed (the reason on stderr in one line), 2 usage.
 */
import cluster from 'node:cluster'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { loadConfigFile, type LoadedConfig } from '../config/load.js'
import { problemsOf } from '../config/schema-errors.js'
import type { LogFormat } from '../config/types.js'
import { ConfigError } from '../core/errors.js'
import { flushLogger, makeLogger } from '../core/log.js'
import { VERSION } from '../core/build-info.js'
import { createProxy, type Proxy } from '../proxy.js'
import { configFromPrimary, resolveWorkers, runPrimary, serveWorker } from './cluster.js'
import { choosesMemoryReducer, NO_MEMORY_REDUCER, RESPAWNED_ENV } from './runtime.js'
import { describeStartError } from './start-errors.js'
import { describeCompress } from '../compress/settings.js'
import { sizeWarnings } from '../config/size-warnings.js'

export const USAGE = `usage: corral <command> [options]

commands:
  serve --config <file>     run the proxy
  check --config <file>     validate a config: every problem, each with its key path; non-zero exit if any
  spike --target <url> --scenario <file> [--report <dir>] [--admin <url>]… [--workers N]   run a load scenario
  purge --admin <url> (--url U | --tag T | --prefix P) [--host H] [--soft]   purge cached pages, fleet-wide
  purge --admin <url> --list                       the purge records in force
  top --admin <url> [--admin <url>]… [--once]      a live view of one proxy or a fleet, every second

  corral <command> --help   that command's options
  corral --version          print the version
`

const SERVE_USAGE = `usage: corral serve [--config <file>] [--log-format json|pretty]

Runs the proxy (and its cluster, with "workers" above 1) until SIGTERM or SIGINT; SIGHUP re-reads the config.

  -c, --config <file>        the config (default proxy.config.json); edits apply within 1 s
      --log-format <format>  json (default; for log shippers) or pretty (for a terminal); over log.format
  -h, --help                 this text
`

const CHECK_USAGE = `usage: corral check [--config <file>]

Validates a config as corral serve would load it, and prints every problem with its key path.
Exit 0 when it would be accepted, 1 when not.

  -c, --config <file>   the config (default proxy.config.json)
  -h, --help            this text
`

export async function main (argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return await serve(rest)
    case 'check':
      return check(rest)
    case 'spike': {
      const { runSpikeCli } = await import('../spike/cli.js')
      return await runSpikeCli(rest)
    }
    case 'purge': {
      const { runPurgeCli } = await import('../purge/cli.js')
      return await runPurgeCli(rest)
    }
    case 'top': {
      const { runTop } = await import('./top.js')
      return await runTop(rest)
    }
    case '--version':
    case '-v':
    case 'version':
      process.stdout.write(`corral ${VERSION} (node ${process.versions.node})\n`)
      return 0
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE)
      return 0
    case undefined:
      process.stderr.write(USAGE)
      return 2
    default:
      process.stderr.write(`corral: unknown command "${command}"\n${USAGE}`)
      return 2
  }
}

const OPTIONS = {
  config: { type: 'string', short: 'c', default: 'proxy.config.json' },
  help: { type: 'boolean', short: 'h', default: false }
} as const satisfies ParseArgsConfig['options']

const SERVE_OPTIONS = { ...OPTIONS, 'log-format': { type: 'string' } } as const satisfies ParseArgsConfig['options']

/** parseArgs, with a usage error as one line and the command's usage (node's own is a TypeError with a stack). */
function parse<O extends NonNullable<ParseArgsConfig['options']>> (command: string, args: string[], options: O, usage: string): ReturnType<typeof parseArgs<{ args: string[], options: O, strict: true }>>['values'] | number {
  try {
    return parseArgs({ args, options, strict: true }).values
  } catch (err) {
    process.stderr.write(`corral ${command}: ${(err as Error).message}\n\n${usage}`)
    return 2
  }
}

/** The config at `path`, or undefined after telling stderr what is wrong with it: one line per problem. */
function loadOrReport (path: string): LoadedConfig | undefined {
  try {
    return loadConfigFile(path)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    const problems = problemsOf(err)
    for (const p of problems) process.stderr.write(`${path}: ${p.keyPath === '' ? '' : `${p.keyPath}: `}${p.reason}\n`)
    if (problems.length > 1) process.stderr.write(`${path}: ${problems.length} problems\n`)
    return undefined
  }
}

function check (args: string[]): number {
  const values = parse('check', args, OPTIONS, CHECK_USAGE)
  if (typeof values === 'number') return values
  if (values.help) {
    process.stdout.write(CHECK_USAGE)
    return 0
  }
  const loaded = loadOrReport(values.config)
  if (loaded === undefined) return 1
  for (const w of loaded.warnings ?? []) process.stderr.write(`${values.config}: warning: ${w.keyPath}: ${w.reason}\n`)
  process.stdout.write(`${values.config}: ok (version ${loaded.version})\n`)
  for (const line of describeCompress(loaded.config.cache.compress)) process.stdout.write(`${values.config}: ${line}\n`)
  for (const warning of sizeWarnings(loaded.config)) process.stderr.write(`${values.config}: warning: ${warning}\n`)
  return 0
}

async function serve (args: string[]): Promise<number> {
  const values = parse('serve', args, SERVE_OPTIONS, SERVE_USAGE)
  if (typeof values === 'number') return values
  if (values.help) {
    process.stdout.write(SERVE_USAGE)
    return 0
  }
  const format = values['log-format']
  if (format !== undefined && format !== 'json' && format !== 'pretty') {
    process.stderr.write(`corral serve: --log-format must be json or pretty (got "${format}")\n`)
    return 2
  }
  try {
    return await serveConfig(values.config, format)
  } catch (err) {
    const line = describeStartError(err)
    if (line === null) throw err
    process.stderr.write(`corral: ${line}\n`)
    return 1
  }
}

async function serveConfig (path: string, logFormat: LogFormat | undefined): Promise<number> {
  if (cluster.isWorker) {
    // Not from the file: it may hold an edit the group rejected (a replacement worker would exit 1 on it, forever).
    const { start, current } = await configFromPrimary()
    const proxy = createProxy(start, { configPath: path, admin: false, ...(logFormat === undefined ? {} : { logFormat }) })
    if (current.version !== start.version) proxy.apply(current)
    serveWorker(proxy)
    return await serveUntilSignal(proxy)
  }
  const loaded = loadOrReport(path)
  if (loaded === undefined) return 1
  const workers = resolveWorkers(loaded.config.workers)
  if (workers > 1) {
    const logger = makeLogger(loaded.config.log.level, undefined, logFormat ?? loaded.config.log.format)
    const code = await runPrimary(path, loaded, workers, logger)
    flushLogger(logger)
    return code
  }
  const proxy = createProxy(loaded, { configPath: path, ...(logFormat === undefined ? {} : { logFormat }) })
  for (const warning of sizeWarnings(loaded.config)) proxy.logger.warn(warning)
  if (!choosesMemoryReducer(process.execArgv)) {
    // Only when the respawn was refused (cli.ts): the flag could not be added for this process.
    proxy.logger.warn({ fix: `node ${NO_MEMORY_REDUCER} <corral>/dist/cli.js serve` },
      'V8\'s memory reducer is on: after its first idle spell the process answers hits ~20% slower for good (docs/benchmarks.md)')
  }
  return await serveUntilSignal(proxy)
}

/** Listen, reload on SIGHUP, drain on SIGTERM/SIGINT; resolves with the exit code. */
async function serveUntilSignal (proxy: Proxy): Promise<number> {
  const { logger } = proxy
  await proxy.listen()
  process.on('SIGHUP', () => proxy.reload())
  return await new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) return
      stopping = true
      logger.info({ signal }, 'draining')
      proxy.close(undefined, proxy.loaded.config.listen.drainDelayMs).then(() => {
        logger.info('stopped')
        flushLogger(logger)
        resolve(0)
      }, (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        flushLogger(logger)
        resolve(1)
      })
    }
    // A worker gets a group-wide signal (systemd, a terminal) twice, directly and from the primary, and so does a
    // respawned process from the process that started it: `once` would let the second one kill it mid-drain. `stop`
    // ignores repeats.
    const on = cluster.isWorker || process.env[RESPAWNED_ENV] !== undefined ? 'on' : 'once'
    process[on]('SIGTERM', () => stop('SIGTERM'))
    process[on]('SIGINT', () => stop('SIGINT'))
  })
}
