/**
 * The processes the benchmarks start: every child tracked (so the runner can stop each one on exit, error or Ctrl-C),
 * free ports and readiness, pinning to cores, and the servers under test (corral, the ceiling, memcached). Load
 * generators live in loadgen/, readings in proc.ts and probes.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NO_MEMORY_REDUCER } from '../src/ops/runtime.js'
import { parseCpuList } from './proc.js'

export const ROOT = join(import.meta.dirname, '..')

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

export async function waitForHttp (url: string, timeoutMs = 10_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
    // A server that died while starting is reported at once, not after the whole timeout.
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${url}: the server exited (${child.signalCode ?? `code ${child.exitCode ?? '?'}`}) before it was ready`)
    }
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      if (res.ok) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not become ready in ${timeoutMs} ms`)
    await sleep(delay)
  }
}

async function waitForTcp (port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`127.0.0.1:${port} did not accept connections in ${timeoutMs} ms`)
    await sleep(50)
  }
}

export interface Child {
  readonly process: ChildProcess
  readonly pid: number
  stop (): Promise<void>
}

const children = new Set<Child>()
const unexpectedExits: string[] = []

/** Children that exited without being asked to since the last call (a crashed corral makes a section's numbers void). */
export function takeUnexpectedExits (): string[] {
  return unexpectedExits.splice(0)
}

/** Stop every child this process started (the runner's finally and signal handlers call it). */
export async function stopAll (): Promise<void> {
  await Promise.all([...children].map(async (child) => await child.stop()))
}

/** Any child process, tracked for stopAll. stdout goes to /dev/null, stderr to ours. */
export function startProcess (command: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } })
  let stopping = false
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      if (!stopping) unexpectedExits.push(`${command.endsWith('node') ? args.find((a) => /\.[jt]s$/.test(a)) ?? command : command} (pid ${child.pid ?? '?'}) exited with ${signal ?? `code ${code ?? '?'}`}`)
      resolve()
    })
    child.once('error', (err) => {
      if (!stopping) unexpectedExits.push(`${command}: ${err.message}`)
      resolve()
    })
  })
  const handle: Child = {
    process: child,
    pid: child.pid ?? -1,
    async stop () {
      stopping = true
      children.delete(handle)
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
  children.add(handle)
  return handle
}

/**
 * A node child process (its stdout to /dev/null: that is where a production access log's cost shows up), run as
 * `npm start` runs corral: without V8's memory reducer (src/runtime.ts). The ceiling gets the same flag, so both sides
 * run the same node; it never matters to the ceiling, whose small heap never sees a full collection.
 */
export function startNode (args: string[], env: Record<string, string> = {}, nodeFlags: readonly string[] = [NO_MEMORY_REDUCER]): Child {
  const argv = [...nodeFlags, ...args]
  return serverCpu === null ? startProcess(process.execPath, argv, env) : startProcess('taskset', ['-c', String(serverCpu), process.execPath, ...argv], env)
}

let serverCpu: number | null = null

/** The CPUs this runner may use, as taskset prints them (`0-1`, `2,3`), read before any pinning; null without taskset. */
const allowedCpus: { readonly list: string, readonly ids: number[] } | null = (() => {
  const out = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' })
  const list = out.status === 0 ? /list:\s*(\S+)/.exec(out.stdout)?.[1] : undefined
  return list === undefined ? null : { list, ids: parseCpuList(list) }
})()

/** Whether servers and the runner can be pinned to cores of their own (taskset, and at least 2 cores allowed). */
export function canPin (): boolean {
  return allowedCpus !== null && allowedCpus.ids.length >= 2
}

/**
 * Servers started from now on run on the second allowed core only, the runner (load generator, origin) on the first:
 * each side owns a core, as a proxy and its clients would in production, and the scheduler no longer moves either
 * between cores mid-round. `false` undoes it for servers started later and gives the runner its cores back.
 */
export function pinCores (pinned: boolean): void {
  if (allowedCpus === null) throw new Error('taskset is not available')
  const [runner, server] = allowedCpus.ids as [number, number]
  serverCpu = pinned ? server : null
  const cores = pinned ? String(runner) : allowedCpus.list
  const done = spawnSync('taskset', ['-a', '-p', '-c', cores, String(process.pid)], { stdio: 'ignore' })
  if (done.status !== 0) throw new Error(`taskset could not set the runner's cores to ${cores}`)
}

export interface Corral extends Child {
  readonly url: string
  readonly adminUrl: string
}

let corralCli = join(ROOT, 'dist/cli.js')

/**
 * Copy dist/ to .tmp/ and run corral from the copy, so one build is measured from the first section to the last even
 * when someone rebuilds dist/ during the run (bare imports still resolve through ROOT/node_modules). Returns a cleanup.
 */
export function snapshotDist (): () => void {
  const dir = join(ROOT, `.tmp/bench-dist-${process.pid}`)
  cpSync(join(ROOT, 'dist'), dir, { recursive: true })
  corralCli = join(dir, 'cli.js')
  return () => rmSync(dir, { recursive: true, force: true })
}

/** The commit measured and whether src/ had uncommitted changes, for the results file. */
export function sourceVersion (): { commit: string, dirtySrc: boolean } {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' })
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' })
  return { commit: head.stdout?.trim() ?? 'unknown', dirtySrc: (dirty.stdout ?? '').trim() !== '' }
}

/**
 * Start corral (the built dist/cli.js, or its snapshot) with a config written to a temp file; node's flags as
 * `npm start` gives them unless `nodeFlags` says otherwise.
 */
export async function startCorral (config: Record<string, unknown>, nodeFlags?: readonly string[]): Promise<Corral> {
  const port = await freePort()
  const adminPort = await freePort()
  const full = {
    ...config,
    // No balancer to tell: stop at once (the 5 s default drain delay would add 5 s to every stop).
    listen: { host: '127.0.0.1', port, drainDelayMs: 0 },
    admin: { host: '127.0.0.1', port: adminPort }
  }
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-'))
  const file = join(dir, 'proxy.config.json')
  writeFileSync(file, JSON.stringify(full))
  const child = startNode([corralCli, 'serve', '--config', file], {}, nodeFlags)
  const url = `http://127.0.0.1:${port}`
  const stop = async (): Promise<void> => {
    await child.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitForHttp(`${url}/__corral/health`, 10_000, child.process)
  } catch (err) {
    await stop()
    throw err
  }
  return { process: child.process, pid: child.pid, stop, url, adminUrl: `http://127.0.0.1:${adminPort}` }
}

/** bench/ceiling.ts in a child process; `workers` > 1 runs a node:cluster of that many. */
export async function startCeiling (workers = 1, nodeFlags?: readonly string[]): Promise<Child & { url: string }> {
  return await startHttpScript('bench/ceiling.ts', { WORKERS: String(workers) }, nodeFlags)
}

/** A bench server script (it listens on PORT) in a child process, answered once it serves HTTP; stopped if it never does. */
export async function startHttpScript (script: string, env: Record<string, string> = {}, nodeFlags?: readonly string[]): Promise<Child & { url: string }> {
  const port = await freePort()
  const child = startNode(['--import', 'tsx', join(ROOT, script)], { ...env, PORT: String(port) }, nodeFlags)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(url)
  } catch (err) {
    await child.stop()
    throw err
  }
  return { ...child, url }
}

export interface Memcached extends Child {
  readonly port: number
  readonly server: string
}

/** Spawn a memcached on a free loopback port, or return null when it is not installed. */
export async function startMemcached (): Promise<Memcached | null> {
  const found = spawnSync('memcached', ['-h'], { stdio: 'ignore' })
  if (found.error !== undefined) return null
  const port = await freePort()
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '256']
  if (process.getuid?.() === 0) args.push('-u', 'nobody')
  const child = startProcess('memcached', args)
  try {
    await waitForTcp(port)
  } catch (err) {
    await child.stop()
    throw err
  }
  return { ...child, stop: child.stop, port, server: `127.0.0.1:${port}` }
}
