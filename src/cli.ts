#!/usr/bin/env node
/**
 * cli: `corral serve | check | spike | purge`. The only module that calls process.exit.
 */
import { parseArgs } from 'node:util'
import { loadConfigFile, type LoadedConfig } from './config/load.js'
import { ConfigError } from './core/errors.js'
import { createProxy, type Proxy } from './proxy.js'
import cluster from 'node:cluster'
import { flushLogger, makeLogger } from './core/log.js'
import { configFromPrimary, resolveWorkers, runPrimary, serveWorker } from './ops/cluster.js'
import { choosesMemoryReducer, NO_MEMORY_REDUCER } from './ops/runtime.js'

const USAGE = `usage:
  corral serve --config <file>     run the proxy
  corral check --config <file>     validate a config; exits non-zero with the key and the reason
  corral spike --target <url> --scenario <file> [--report <dir>]   run a load scenario (corral spike --help)
  corral purge --admin <url> (--url U | --tag T | --prefix P) [--host H] [--soft]   purge cached pages
`

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return await serve(rest)
    case 'check':
      return check(rest)
    case 'spike': {
      const { runSpikeCli } = await import('./spike/cli.js')
      return await runSpikeCli(rest)
    }
    case 'purge':
      return await (await import('./purge/cli.js')).runPurgeCli(rest)
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE)
      return 0
    case undefined:
      process.stderr.write(USAGE)
      return 2
    default:
      process.stderr.write(`unknown command: ${command}\n${USAGE}`)
      return 2
  }
}

function configPath (args: string[]): string {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true })
  return values.config ?? 'proxy.config.json'
}

/** The config at `path`, or undefined after telling stderr what is wrong with it. */
function loadOrReport (path: string): LoadedConfig | undefined {
  try {
    return loadConfigFile(path)
  } catch (err) {
    process.stderr.write(`${path}: ${err instanceof ConfigError ? err.message : String(err)}\n`)
    return undefined
  }
}

function check (args: string[]): number {
  const path = configPath(args)
  const loaded = loadOrReport(path)
  if (loaded === undefined) return 1
  process.stdout.write(`${path}: ok (version ${loaded.version})\n`)
  return 0
}

async function serve (args: string[]): Promise<number> {
  const path = configPath(args)
  if (cluster.isWorker) {
    // Not from the file: it may hold an edit the group rejected (a replacement worker would exit 1 on it, forever).
    const { start, current } = await configFromPrimary()
    const proxy = createProxy(start, { configPath: path, admin: false })
    if (current.version !== start.version) proxy.apply(current)
    serveWorker(proxy)
    return await serveUntilSignal(proxy)
  }
  const loaded = loadOrReport(path)
  if (loaded === undefined) return 1
  const workers = resolveWorkers(loaded.config.workers)
  if (workers > 1) {
    const logger = makeLogger(loaded.config.log.level)
    const code = await runPrimary(path, loaded, workers, logger)
    flushLogger(logger)
    return code
  }
  const proxy = createProxy(loaded, { configPath: path })
  if (!choosesMemoryReducer(process.execArgv)) {
    proxy.logger.warn({ fix: `node ${NO_MEMORY_REDUCER} <corral>/dist/cli.js serve (npm start does; cluster workers get it)` },
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
      proxy.close().then(() => {
        logger.info('stopped')
        flushLogger(logger)
        resolve(0)
      }, (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        flushLogger(logger)
        resolve(1)
      })
    }
    // A worker gets a group-wide signal (systemd, a terminal) twice, directly and from the primary: `once` would let
    // the second one kill it mid-drain. `stop` ignores repeats.
    const on = cluster.isWorker ? 'on' : 'once'
    process[on]('SIGTERM', () => stop('SIGTERM'))
    process[on]('SIGINT', () => stop('SIGINT'))
  })
}

// Exit explicitly: a cluster worker's IPC channel (and any handle a library leaves) would keep the process alive.
main(process.argv.slice(2)).then((code) => {
  process.exit(code)
}, (err: unknown) => {
  process.stderr.write(`corral: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
