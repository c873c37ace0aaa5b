/**
 * `npm run demo`: the product's story in one command. A slow origin (300 ms per page), corral in front of it,
 * and the same front-page spike run through corral and then straight at the origin.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDemoOrigin, type DemoOrigin } from './demo-origin.js'
import { makeAdminMetrics } from '../src/spike/metrics.js'
import { writeReport } from '../src/spike/report.js'
import { runSpike, type SpikeResult, type StageReport } from '../src/spike/run.js'
import { loadScenarioFile } from '../src/spike/scenario.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const scenarioPath = join(root, 'bench/scenarios/front-page-spike.json')
const reportRoot = join(root, 'spike-report/demo')
const out = (line = ''): void => { process.stdout.write(line + '\n') }

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => { resolve(port) })
    })
  })
}

async function waitForHealth (url: string, child: ChildProcess, deadlineMs: number): Promise<void> {
  while (Date.now() < deadlineMs) {
    if (child.exitCode !== null) throw new Error(`corral exited with code ${child.exitCode} before it was ready`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(500) })
      if (res.status === 200) return
    } catch {}
    // Polling a port that is not open yet; nothing to wait on but time.
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`corral did not answer ${url} within 10 s`)
}

async function startProxy (origin: DemoOrigin, dir: string): Promise<{ url: string, admin: string, child: ChildProcess }> {
  const cli = join(root, 'dist/cli.js')
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run `npm run build` (npm run demo does it)')
  const [port, adminPort] = [await freePort(), await freePort()]
  const configPath = join(dir, 'demo.config.json')
  await writeFile(configPath, JSON.stringify({
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: adminPort },
    origin: { url: origin.url },
    log: { level: 'warn', access: false }
  }, null, 2))
  const child = spawn(process.execPath, [cli, 'serve', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${port}`
  await waitForHealth(`${url}/__corral/health`, child, Date.now() + 10_000)
  return { url, admin: `http://127.0.0.1:${adminPort}`, child }
}

async function stopProxy (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

function stageLine (s: StageReport): void {
  const cache = Object.entries(s.cache).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')
  out(`  ${s.name.padEnd(6)} ${String(s.connections).padStart(3)} conn  ${String(s.requests).padStart(7)} requests  p99 ${String(s.latencyMs.p99).padStart(8)} ms  errors ${s.errors}  ${cache}`)
}

interface Run { readonly result: SpikeResult, readonly originRequests: number }

async function runAgainst (label: string, target: string, origin: DemoOrigin, admin?: string): Promise<Run> {
  out(`\n${label} (${target})`)
  origin.reset()
  const result = await runSpike({
    target,
    scenario: loadScenarioFile(scenarioPath),
    ...(admin === undefined ? {} : { metrics: makeAdminMetrics(admin) }),
    onStageEnd: stageLine
  })
  const originRequests = origin.requests()
  const files = await writeReport(join(reportRoot, label === 'through corral' ? 'corral' : 'origin'), result)
  out(`  report: ${files.html}`)
  return { result, originRequests }
}

function total (r: SpikeResult, get: (s: StageReport) => number): number {
  return r.stages.reduce((n, s) => n + get(s), 0)
}

function printTable (withCorral: Run | undefined, direct: Run): void {
  const p99 = (r: SpikeResult): number => Math.max(0, ...r.stages.map((s) => s.latencyMs.p99))
  const cols = (label: string, a: string, b: string): void => { out(`${label.padEnd(28)}${a.padStart(14)}${b.padStart(20)}`) }
  out('\nsame scenario, same origin (300 ms per page)')
  cols('', 'with corral', 'straight at origin')
  const c = withCorral?.result
  cols('requests served', c === undefined ? '-' : String(total(c, (s) => s.requests)), String(total(direct.result, (s) => s.requests)))
  cols('worst stage p99 (ms)', c === undefined ? '-' : String(p99(c)), String(p99(direct.result)))
  cols('errors', c === undefined ? '-' : String(total(c, (s) => s.errors)), String(total(direct.result, (s) => s.errors)))
  cols('origin requests', withCorral === undefined ? '-' : String(withCorral.originRequests), String(direct.originRequests))
}

const started = Date.now()
const origin = await startDemoOrigin(300)
const dir = await mkdtemp(join(tmpdir(), 'corral-demo-'))
let proxy: Awaited<ReturnType<typeof startProxy>> | undefined
let exitCode = 0
try {
  out(`demo origin on ${origin.url}: 300 ms per page; front page max-age=2 + stale-while-revalidate=30, articles max-age=60`)
  let withCorral: Run | undefined
  try {
    proxy = await startProxy(origin, dir)
    withCorral = await runAgainst('through corral', proxy.url, origin, proxy.admin)
  } catch (err) {
    exitCode = 1
    out(`\ncould not run through corral: ${(err as Error).message}`)
  }
  if (proxy !== undefined) await stopProxy(proxy.child)
  proxy = undefined
  const direct = await runAgainst('straight at the origin', origin.url, origin)
  printTable(withCorral, direct)
  out(`\n${((Date.now() - started) / 1000).toFixed(1)} s; stage by stage: npx corral spike compare spike-report/demo/origin/report.json spike-report/demo/corral/report.json`)
} finally {
  if (proxy !== undefined) await stopProxy(proxy.child)
  await origin.close()
  await rm(dir, { recursive: true, force: true })
}
process.exitCode = exitCode
