/**
 * Config on disk for the reload, drain and cluster tests: a temp config file, an in-process proxy that watches it
 * (`startProxyFromFile`), and the real CLI in a child process (`startCli`). Readiness and exits are awaited
 * (a polled probe, the child's 'exit' event), never slept for.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import pino from 'pino'
import { setTimeout as delay } from 'node:timers/promises'
import { loadConfigFile } from '../../src/config/load.js'
import { createProxy, type ProxyOptions } from '../../src/proxy.js'
import { freePort } from './memcached.js'
import { merge, type TestProxy } from './proxy.js'
import { NO_MEMORY_REDUCER } from '../../src/ops/runtime.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const HOST = '127.0.0.1'

export type Json = Record<string, unknown>

export interface ConfigFile {
  readonly dir: string
  readonly path: string
  /** The config last written with `write`/`edit` (not what `writeText` wrote). */
  readonly config: Json
  /** Overwrite the file in place (truncate + write, as most scripts do). */
  write (config: Json): void
  /** Deep-merge `changes` into the last written config and write it. */
  edit (changes: Json): void
  /** Write raw bytes: broken JSON, comments… */
  writeText (text: string): void
  /** Save like an editor: write a temp file beside it, then rename it over the config. */
  saveByRename (config: Json): void
  remove (): void
}

/**
 * The cluster workers of a `corral serve` primary: its children running the CLI. Not every child: with a cold tsx
 * cache the primary also runs an esbuild service process, which is no worker.
 */
export function cliChildren (pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-f', 'src/cli.ts'], { encoding: 'utf8' }).split('\n').filter((l) => l !== '').map(Number)
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
}

export function tempConfigFile (config: Json): ConfigFile {
  const dir = mkdtempSync(join(tmpdir(), 'corral-config-'))
  const path = join(dir, 'proxy.config.json')
  let current = config
  const file: ConfigFile = {
    dir,
    path,
    get config () { return current },
    write (next) {
      current = next
      writeFileSync(path, JSON.stringify(next, null, 2))
    },
    edit (changes) { file.write(merge(current, changes)) },
    writeText (text) { writeFileSync(path, text) },
    saveByRename (next) {
      current = next
      const tmp = join(dir, '.proxy.config.json.swp')
      writeFileSync(tmp, JSON.stringify(next, null, 2))
      renameSync(tmp, path)
    },
    remove () { rmSync(dir, { recursive: true, force: true }) }
  }
  file.write(config)
  return file
}

export interface FileProxy extends TestProxy {
  readonly file: ConfigFile
}

/**
 * Like startProxy (test/helpers/proxy.ts), but the config lives in a temp file the proxy watches, so edits to it are
 * hot reloads. `overrides` are deep-merged into a minimal config pointing at `originUrl`.
 */
export async function startProxyFromFile (originUrl: string, overrides: Json = {}, options: Omit<ProxyOptions, 'configPath'> = {}): Promise<FileProxy> {
  const file = tempConfigFile(merge({
    listen: { host: HOST, port: 0 },
    admin: { host: HOST, port: 0 },
    origin: { url: originUrl, timeoutMs: 5000 },
    log: { level: 'info', access: true }
  }, overrides))
  const loaded = loadConfigFile(file.path)
  const logs: Json[] = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Json)
      cb()
    }
  })
  const logger = options.logger ?? pino({ level: loaded.config.log.level }, sink)
  const proxy = createProxy(loaded, { ...options, logger, configPath: file.path })
  const { port, adminPort } = await proxy.listen()
  return {
    proxy,
    file,
    url: `http://${HOST}:${port}`,
    adminUrl: `http://${HOST}:${adminPort}`,
    logs,
    async close () {
      await proxy.close(100)
      file.remove()
    }
  }
}

export interface CliProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly url: string
  readonly adminUrl: string
  readonly file: ConfigFile
  /** Everything the process wrote (stdout and stderr): for failure messages. */
  readonly output: string
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** The pids of the process's direct children (cluster workers). */
  children (): number[]
  /** SIGKILL if still running, remove the temp config. Safe to call twice. */
  kill (): Promise<void>
}

/**
 * `corral serve --config <file>` through tsx, with listen/admin on free ports (picked by listening on port 0). Resolves
 * once `ready` holds.
 */
export interface CliOptions {
  /** When the process is ready to test; by default once the main listener's health path answers 200. */
  readonly ready?: (cli: CliProcess) => Promise<boolean>
  /** Its own process group (pid = pgid), so a test can signal the whole group as systemd or a terminal does. */
  readonly detached?: boolean
  /** Node's own flags; by default what `npm start` passes. */
  readonly nodeArgs?: readonly string[]
}

export async function startCli (config: Json, { ready, detached = false, nodeArgs = [NO_MEMORY_REDUCER] }: CliOptions = {}): Promise<CliProcess> {
  const port = await freePort()
  const adminPort = await freePort()
  const file = tempConfigFile(merge({ log: { level: 'warn', access: false } }, {
    ...config,
    // A test's SIGTERM needs no balancer to notice: stop at once unless the test sets a delay (the default is 5 s).
    listen: { drainDelayMs: 0, ...(config['listen'] as Json | undefined), host: HOST, port },
    admin: { ...(config['admin'] as Json | undefined), host: HOST, port: adminPort }
  }))
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', file.path], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  let gone = false
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { gone = true; resolve({ code, signal }) })
  })
  const onExit = (): void => { if (!gone) child.kill('SIGKILL') }
  process.once('exit', onExit)
  const cli: CliProcess = {
    child,
    pid: child.pid as number,
    url: `http://${HOST}:${port}`,
    adminUrl: `http://${HOST}:${adminPort}`,
    file,
    get output () { return output },
    exited,
    children () {
      return cliChildren(child.pid as number)
    },
    async kill () {
      process.off('exit', onExit)
      if (!gone) {
        // The whole group: a cluster primary killed alone would orphan its workers.
        for (const pid of cli.children()) {
          try { process.kill(pid, 'SIGKILL') } catch {}
        }
        child.kill('SIGKILL')
      }
      await exited
      file.remove()
    }
  }
  const isReady = ready ?? (async () => (await probe(`${cli.url}/__corral/health`)) === 200)
  const ok = await until(async () => gone || await isReady(cli), 15_000)
  if (!ok || gone) {
    const why = gone ? 'exited' : `was not ready within 15 s (children: ${cli.children().join(', ') || 'none'})`
    await cli.kill()
    throw new Error(`corral serve ${why}:\n${output}`)
  }
  return cli
}

/** expect.poll for hooks (where expect.poll is not allowed): true once `check` holds, false after `timeoutMs`. */
export async function until (check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await delay(intervalMs)
  }
}

/** The status of a GET on a fresh connection, or 0 when the connection is refused or reset. */
export async function probe (url: string, init: RequestInit = {}): Promise<number> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) })
    await res.arrayBuffer()
    return res.status
  } catch {
    return 0
  }
}

export { metricSum } from './proxy-process.js'

export { merge }
