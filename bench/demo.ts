/**
 * `npm run demo`: the product's story in one command. A slow origin (300 ms per page), corral in front of it,
 * and the same front-page spike run through corral and then straight at the origin.
 */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDemoOrigin, type DemoOrigin } from './demo-origin.js'
import { startCorral, type Corral } from './lib.js'
import { makeAdminMetrics, type MetricsSource } from '../src/spike/metrics.js'
import { writeReport } from '../src/spike/report.js'
import { runSpike, type SpikeResult, type StageReport } from '../src/spike/run.js'
import { loadScenarioFile } from '../src/spike/scenario.js'
import { verdictLines } from '../src/spike/verdict.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const scenarioPath = join(root, 'bench/scenarios/front-page-spike.json')
const reportRoot = join(root, 'spike-report/demo')
const out = (line = ''): void => { process.stdout.write(line + '\n') }

function stageLine (s: StageReport): void {
  const cache = Object.entries(s.cache).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')
  out(`  ${s.name.padEnd(6)} ${String(s.connections).padStart(3)} conn  ${String(s.requests).padStart(7)} requests  p99 ${String(s.latencyMs.p99).padStart(8)} ms  ` +
    `errors ${s.errors}  origin ${s.originRps ?? '-'}/s  ${cache}`)
}

interface Run { readonly result: SpikeResult, readonly originRequests: number }

/**
 * Straight at the origin there is no corral /metrics to read, so the demo origin's own counter stands in for it:
 * the scenario's maxOriginRps threshold then judges both runs on the same figure.
 */
function originCounter (origin: DemoOrigin): MetricsSource {
  return { originRequests: async () => ({ total: origin.requests(), byReason: { direct: origin.requests() } }) }
}

async function runAgainst (label: string, target: string, origin: DemoOrigin, metrics: MetricsSource): Promise<Run> {
  out(`\n${label} (${target})`)
  origin.reset()
  const result = await runSpike({
    target,
    scenario: loadScenarioFile(scenarioPath),
    metrics,
    onStageEnd: stageLine
  })
  const originRequests = origin.requests()
  const files = await writeReport(join(reportRoot, label === 'through corral' ? 'corral' : 'origin'), result)
  for (const line of verdictLines(result.verdict, result.aborted === 'interrupted')) out(`  ${line}`)
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
  const verdict = (r: SpikeResult): string => r.ok ? 'PASSED' : 'FAILED'
  cols('verdict (maxOriginRps …)', c === undefined ? '-' : verdict(c), verdict(direct.result))
}

const started = Date.now()
const origin = await startDemoOrigin(300)
let proxy: Corral | undefined
let exitCode = 0
try {
  out(`demo origin on ${origin.url}: 300 ms per page; front page max-age=2 + stale-while-revalidate=30, articles max-age=60`)
  let withCorral: Run | undefined
  try {
    if (!existsSync(join(root, 'dist/cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` (npm run demo does it)')
    proxy = await startCorral({ origin: { url: origin.url }, log: { level: 'warn', access: false } })
    withCorral = await runAgainst('through corral', proxy.url, origin, makeAdminMetrics(proxy.adminUrl))
  } catch (err) {
    exitCode = 1
    out(`\ncould not run through corral: ${(err as Error).message}`)
  }
  await proxy?.stop()
  proxy = undefined
  const direct = await runAgainst('straight at the origin', origin.url, origin, originCounter(origin))
  printTable(withCorral, direct)
  out(`\n${((Date.now() - started) / 1000).toFixed(1)} s; stage by stage: npx corral spike compare spike-report/demo/origin/report.json spike-report/demo/corral/report.json`)
} finally {
  await proxy?.stop()
  await origin.close()
}
process.exitCode = exitCode
