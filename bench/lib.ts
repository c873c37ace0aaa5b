/**
 * Shared plumbing for the benchmarks: child processes (all tracked, so the runner can stop every one on exit, error
 * or Ctrl-C), free ports, readiness, autocannon runs, concurrent bursts, and readings from /proc, corral's /metrics
 * and memcached's `stats`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { Pool } from 'undici'
import { sumMetric } from '../src/spike/metrics.js'
import { NO_MEMORY_REDUCER } from '../src/ops/runtime.js'

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
  if (list === undefined) return null
  const ids = list.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number) as [number, number | undefined]
    return to === undefined ? [from] : Array.from({ length: to - from + 1 }, (_, i) => from + i)
  })
  return { list, ids }
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
    listen: { host: '127.0.0.1', port },
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
export async function startCeiling (workers = 1): Promise<Child & { url: string }> {
  const port = await freePort()
  const child = startNode(['--import', 'tsx', join(ROOT, 'bench/ceiling.ts')], { PORT: String(port), WORKERS: String(workers) })
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(url)
  } catch (err) {
    await child.stop()
    throw err
  }
  return { ...child, stop: child.stop, url }
}

export interface LoadResult {
  readonly rps: number
  readonly requests: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly non2xx: number
  readonly errors: number
}

export async function load (url: string, connections: number, durationS: number, extra: Partial<autocannon.Options> = {}): Promise<LoadResult> {
  const result = await autocannon({ url, connections, duration: durationS, pipelining: 1, ...extra })
  // total / elapsed rather than the mean of per-second samples: a 1-2 s smoke run has one or two samples.
  const elapsedS = result.duration > 0 ? result.duration : durationS
  return {
    rps: result.requests.total / elapsedS,
    requests: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts
  }
}

export interface BurstResult {
  readonly n: number
  readonly non2xx: number
  readonly errors: number
  readonly minMs: number
  readonly medianMs: number
  readonly maxMs: number
  /** Responses by X-Cache value. */
  readonly xCache: Record<string, number>
  readonly firstError?: string
}

export interface BurstTarget {
  readonly url: string
  readonly count: number
}

/**
 * Fire requests all at once (one connection each, opened beforehand with a request for `warmPath` so the burst lands
 * together) and time each from its dispatch to its last body byte.
 */
export async function burst (targets: readonly BurstTarget[], path: string, warmPath = '/__corral/health'): Promise<BurstResult> {
  const pools = targets.map((t) => ({ pool: new Pool(t.url, { connections: t.count, pipelining: 1 }), count: t.count }))
  const times: number[] = []
  const xCache: Record<string, number> = {}
  let non2xx = 0
  let errors = 0
  let firstError: string | undefined
  try {
    const one = async (pool: Pool): Promise<void> => {
      const start = performance.now()
      try {
        const res = await pool.request({ path, method: 'GET' })
        await res.body.arrayBuffer()
        times.push(performance.now() - start)
        if (res.statusCode < 200 || res.statusCode > 299) non2xx++
        const x = res.headers['x-cache']
        const label = typeof x === 'string' ? x : '(none)'
        xCache[label] = (xCache[label] ?? 0) + 1
      } catch (err) {
        errors++
        firstError ??= err instanceof Error ? err.message : String(err)
      }
    }
    // Open every connection first (one cheap request per connection, all at once, so the pool opens `count`
    // sockets); otherwise the burst is spread over the time it takes to connect hundreds of sockets.
    await Promise.all(pools.flatMap(({ pool, count }) => Array.from({ length: count }, async () => {
      const res = await pool.request({ path: warmPath, method: 'GET' })
      await res.body.arrayBuffer()
    })))
    const all: Array<Promise<void>> = []
    for (const { pool, count } of pools) {
      for (let i = 0; i < count; i++) all.push(one(pool))
    }
    await Promise.all(all)
  } finally {
    await Promise.all(pools.map(async ({ pool }) => await pool.destroy()))
  }
  return {
    n: times.length + errors,
    non2xx,
    errors,
    minMs: times.length > 0 ? Math.min(...times) : NaN,
    medianMs: times.length > 0 ? median(times) : NaN,
    maxMs: times.length > 0 ? Math.max(...times) : NaN,
    xCache,
    ...(firstError !== undefined ? { firstError } : {})
  }
}

/** Run `fn` over `items` with at most `concurrency` in flight. */
export async function forEachLimit<T> (items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Sum of a Prometheus counter over all its label sets, from corral's admin /metrics. NaN when unreadable. */
export async function metricSum (adminUrl: string, name: string, labelFilter = ''): Promise<number> {
  try {
    const res = await fetch(`${adminUrl}/metrics`)
    return sumMetric(await res.text(), name, labelFilter) ?? 0
  } catch {
    return NaN
  }
}

/** A KiB field of /proc/<pid>/status: VmRSS (resident now), VmHWM (peak resident); NaN off Linux. */
export function statusKb (pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match?.[1] !== undefined ? Number(match[1]) : NaN
  } catch {
    return NaN
  }
}

/** A process and its descendants (from /proc/<pid>/task/<tid>/children). */
export function processTree (pid: number): number[] {
  const all = [pid]
  for (let i = 0; i < all.length; i++) {
    const p = all[i] as number
    try {
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim()
      if (children !== '') all.push(...children.split(/\s+/).map(Number))
    } catch {}
  }
  return all
}

/** CPU time (user + system, seconds) used so far by a process and its descendants; NaN off Linux. */
export function treeCpuSeconds (pid: number): number {
  let ticks = 0
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      return NaN
    }
  }
  return ticks / CLOCK_TICKS
}

const CLOCK_TICKS = ((): number => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
  const n = Number(out.stdout?.trim())
  return Number.isFinite(n) && n > 0 ? n : 100
})()

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

/** memcached's `stats` as numbers (cmd_get, get_hits, curr_items, …). */
export async function memcachedStats (port: number): Promise<Record<string, number>> {
  return await new Promise((resolve, reject) => {
    let text = ''
    const socket = connect(port, '127.0.0.1', () => socket.write('stats\r\n'))
    socket.setEncoding('utf8')
    socket.setTimeout(2000, () => socket.destroy(new Error('memcached stats timed out')))
    socket.on('data', (chunk: string) => {
      text += chunk
      if (text.endsWith('END\r\n')) {
        socket.end()
        const stats: Record<string, number> = {}
        for (const line of text.split('\r\n')) {
          const [tag, name, value] = line.split(' ')
          if (tag === 'STAT' && name !== undefined && value !== undefined) stats[name] = Number(value)
        }
        resolve(stats)
      }
    })
    socket.once('error', reject)
  })
}

/** Header names and the byte size of a response's head, to check that the ceiling writes what corral writes. */
export async function responseShape (url: string): Promise<{ names: string[], headBytes: number, bodyBytes: number }> {
  const parsed = new URL(url)
  const pool = new Pool(parsed.origin, { connections: 1 })
  try {
    const res = await pool.request({ path: parsed.pathname, method: 'GET' })
    const body = Buffer.from(await res.body.arrayBuffer())
    const names = Object.keys(res.headers).sort()
    let headBytes = 'HTTP/1.1 200 OK\r\n'.length + 2
    for (const [name, value] of Object.entries(res.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) headBytes += name.length + 2 + String(v).length + 2
    }
    return { names, headBytes, bodyBytes: body.length }
  } finally {
    await pool.destroy()
  }
}
