/**
 * A corral proxy in its own process (`corral serve --config <file>` through tsx), for tests that must kill a proxy
 * the hard way (SIGKILL mid-fetch): an in-process proxy cannot die without taking the test runner with it.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { sumMetric } from '../../src/spike/metrics.js'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './memcached.js'
import { NO_MEMORY_REDUCER } from '../../src/ops/runtime.js'

export interface ProxyProcess {
  readonly url: string
  readonly adminUrl: string
  readonly pid: number
  /** What the process wrote so far (pino lines, stack traces): for failure messages. */
  readonly output: string
  /** Send a signal and resolve once the process has exited. */
  kill (signal?: NodeJS.Signals): Promise<void>
  /** SIGTERM (graceful drain), SIGKILL if it is still there after `graceMs`; removes the temp config. */
  stop (graceMs?: number): Promise<void>
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const HOST = '127.0.0.1'
const READY_DEADLINE_MS = 15_000

/**
 * Writes `config` (listen/admin filled in with free ports) to a temp file, spawns the CLI on it and resolves once
 * `/__corral/health` answers 200.
 */
export async function startProxyProcess (config: Record<string, unknown>): Promise<ProxyProcess> {
  const port = await freePort()
  const adminPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'corral-proxy-'))
  const file = join(dir, 'proxy.config.json')
  writeFileSync(file, JSON.stringify({
    log: { level: 'warn', access: false },
    ...config,
    // A test's SIGTERM needs no balancer to notice: stop at once (the 5 s default is for production).
    listen: { drainDelayMs: 0, host: HOST, port },
    admin: { host: HOST, port: adminPort }
  }))
  const child = spawn(process.execPath, [NO_MEMORY_REDUCER, '--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', file], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const collect = (chunk: string): void => { output += chunk }
  child.stdout.setEncoding('utf8').on('data', collect)
  child.stderr.setEncoding('utf8').on('data', collect)
  let gone = false
  const exited = new Promise<void>(resolve => child.once('exit', () => { gone = true; resolve() }))
  child.once('error', err => { output += String(err) })
  const onExit = (): void => { if (!gone) child.kill('SIGKILL') }
  process.once('exit', onExit)
  const cleanup = (): void => {
    process.off('exit', onExit)
    rmSync(dir, { recursive: true, force: true })
  }

  const url = `http://${HOST}:${port}`
  const started = Date.now()
  for (let wait = 20; ; wait = Math.min(wait * 2, 250)) {
    if (gone) {
      cleanup()
      throw new Error(`corral serve exited before it was healthy:\n${output}`)
    }
    if (await healthy(`${url}/__corral/health`)) break
    if (Date.now() - started > READY_DEADLINE_MS) {
      child.kill('SIGKILL')
      await exited
      cleanup()
      throw new Error(`corral serve was not healthy within ${READY_DEADLINE_MS} ms:\n${output}`)
    }
    await sleep(wait)
  }

  return {
    url,
    adminUrl: `http://${HOST}:${adminPort}`,
    pid: child.pid as number,
    get output () { return output },
    async kill (signal = 'SIGKILL') {
      if (!gone) child.kill(signal)
      await exited
      cleanup()
    },
    async stop (graceMs = 2000) {
      if (!gone) child.kill('SIGTERM')
      const timer = setTimeout(() => { if (!gone) child.kill('SIGKILL') }, graceMs)
      await exited
      clearTimeout(timer)
      cleanup()
    }
  }
}

async function healthy (url: string): Promise<boolean> {
  try {
    const res = await fetch(url)
    await res.arrayBuffer()
    return res.status === 200
  } catch {
    return false
  }
}

/**
 * One series from a Prometheus text exposition, e.g. `corral_leases_total{result="takeover"}`; 0 when absent
 * (prom-client only prints a labelled series once it has been incremented).
 */
export async function readMetric (adminUrl: string, series: string): Promise<number> {
  const res = await fetch(`${adminUrl}/metrics`)
  return metricValue(await res.text(), series)
}

export function metricValue (text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1))
  }
  return 0
}

/** Sum of every series of `name` whose labels contain `labelFilter` (e.g. `op="get"`), whatever the other labels. */
export function metricSum (text: string, name: string, labelFilter = ''): number {
  return sumMetric(text, name, labelFilter) ?? 0
}
