/**
 * `npm run bench`: corral's benchmarks against the targets in docs/benchmarks.md, as ratios measured side by side in one run (2 noisy cores:
 * absolute numbers move from run to run, ratios much less). Servers run in child processes; the load generator (wrk
 * when installed, else autocannon in worker threads, for the throughput sections; autocannon or undici elsewhere) and
 * the counting origin run from here. Prints a table and writes .tmp/bench-results.json. Ratios never set the exit
 * code; with --smoke a stampede that reaches the origin more than once, a client that got a non-2xx, or a section
 * that crashed does. Each section lives in bench/sections/; docs/benchmarks.md describes the instrument.
 *
 *   npm run bench                         every section (about 4-5 minutes)
 *   npm run bench -- --smoke              sections 1, 3, 4, one short round each (CI)
 *   npm run bench -- --only hit,stampede  a subset, by number or name
 *   npm run bench -- --loadgen autocannon the throughput sections on the fallback generator (default: auto)
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT, snapshotDist, sourceVersion, stopAll, takeUnexpectedExits } from './lib.js'
import { isLoadgenChoice, pickLoadGenerator } from './loadgen/pick.js'
import { startOrigin } from './origin.js'
import { fmt, log, row, type Row, type Run, type Section } from './section.js'
import { expirySection } from './sections/expiry.js'
import { hitSection } from './sections/hit.js'
import { memcachedHitSection } from './sections/memcached.js'
import { memorySection } from './sections/memory.js'
import { stampedeSection } from './sections/stampede.js'
import { uncacheableSection } from './sections/uncacheable.js'
import { workersSection } from './sections/workers.js'

const SECTIONS: Section[] = [
  { id: '1', name: 'hit', title: 'L1 hit vs ceiling', smoke: true, run: hitSection },
  { id: '2', name: 'expiry', title: 'Expiry under load', smoke: false, run: expirySection },
  { id: '3', name: 'stampede', title: 'Stampede', smoke: true, run: stampedeSection },
  { id: '4', name: 'uncacheable', title: 'Uncacheable burst', smoke: true, run: uncacheableSection },
  { id: '5', name: 'memcached', title: 'memcached hit vs ceiling', smoke: false, run: memcachedHitSection },
  { id: '6', name: 'workers', title: 'workers auto vs 2-worker ceiling', smoke: false, run: workersSection },
  { id: '7', name: 'memory', title: 'Memory under many keys', smoke: false, run: memorySection }
]

function printTable (rows: Row[]): string {
  const head: Row = { section: 'section', metric: 'metric', measured: 'measured', target: 'target', verdict: 'info' }
  const all = [head, ...rows]
  const w = {
    section: Math.max(...all.map((x) => x.section.length)),
    metric: Math.max(...all.map((x) => x.metric.length)),
    measured: Math.max(...all.map((x) => x.measured.length)),
    target: Math.max(...all.map((x) => x.target.length))
  }
  const line = (x: Row, verdict: string): string =>
    `${x.section.padEnd(w.section)}  ${x.metric.padEnd(w.metric)}  ${x.measured.padEnd(w.measured)}  ${x.target.padEnd(w.target)}  ${verdict}`
  const out = [line(head, 'verdict'), '-'.repeat(w.section + w.metric + w.measured + w.target + 16)]
  let last = ''
  for (const x of rows) {
    out.push(line({ ...x, section: x.section === last ? '' : x.section }, x.verdict === 'info' ? '' : x.verdict))
    last = x.section
  }
  return out.join('\n')
}

function selectSections (smoke: boolean, only: string | undefined): Section[] {
  if (only === undefined) return SECTIONS.filter((x) => !smoke || x.smoke)
  const wanted = only.split(',').map((x) => x.trim()).filter((x) => x !== '')
  for (const w of wanted) {
    if (!SECTIONS.some((x) => x.id === w || x.name === w)) throw new Error(`--only: unknown section "${w}" (one of ${SECTIONS.map((x) => `${x.id}/${x.name}`).join(', ')})`)
  }
  return SECTIONS.filter((x) => wanted.includes(x.id) || wanted.includes(x.name))
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: { smoke: { type: 'boolean', default: false }, only: { type: 'string' }, loadgen: { type: 'string', default: 'auto' } },
    strict: true
  })
  const smoke = values.smoke
  const sections = selectSections(smoke, values.only)
  if (!isLoadgenChoice(values.loadgen)) throw new Error(`--loadgen: "${values.loadgen}" is not one of auto, wrk, autocannon`)
  const generator = pickLoadGenerator(values.loadgen)
  const version = sourceVersion()
  const removeSnapshot = snapshotDist()
  const origin = await startOrigin(200)
  const r: Run = {
    smoke,
    origin,
    generator,
    rows: [],
    details: {},
    gateFailures: [],
    rounds: smoke ? 1 : 5,
    roundS: smoke ? 2 : 5,
    warmupS: smoke ? 1 : 2
  }
  const started = new Date()
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`\n${signal}: stopping child processes`)
    Promise.all([stopAll(), origin.close()]).finally(() => {
      removeSnapshot()
      process.exit(130)
    }).catch(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const env = `node ${process.version}, ${availableParallelism()} cores, ${started.toISOString()}, ${version.commit}${version.dirtySrc ? ' + uncommitted src/' : ''}, load generator ${generator.label}${smoke ? ', --smoke' : ''}`
  log(`corral bench: ${env}`)
  try {
    for (const section of sections) {
      log(`\n[${section.id}] ${section.title}`)
      const t0 = performance.now()
      try {
        await section.run(r)
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        log(`  FAILED: ${message}`)
        row(r, `${section.id} ${section.name}`, 'section crashed', message.slice(0, 80), '', 'failed')
        r.gateFailures.push(`${section.id} ${section.name}: crashed: ${message}`)
      } finally {
        await stopAll() // nothing a section started outlives it
      }
      for (const exit of takeUnexpectedExits()) {
        log(`  FAILED: ${exit}; this section's figures are void`)
        row(r, `${section.id} ${section.name}`, 'child process died', exit.slice(-80), '', 'failed')
        r.gateFailures.push(`${section.id} ${section.name}: ${exit}`)
      }
      log(`  (${fmt((performance.now() - t0) / 1000, 1)} s)`)
    }
  } finally {
    await stopAll()
    await origin.close()
    removeSnapshot()
  }
  const elapsedS = (Date.now() - started.getTime()) / 1000
  log(`\nResults (${env}, ${fmt(elapsedS)} s; ratios are medians of interleaved rounds measured in this run)\n`)
  log(printTable(r.rows))
  const file = join(ROOT, '.tmp/bench-results.json')
  mkdirSync(join(ROOT, '.tmp'), { recursive: true })
  writeFileSync(file, JSON.stringify({
    date: started.toISOString(),
    node: process.version,
    ...version,
    cores: availableParallelism(),
    loadGenerator: generator.label,
    smoke,
    sections: sections.map((x) => x.id),
    elapsedS,
    rows: r.rows,
    details: r.details,
    gateFailures: r.gateFailures
  }, null, 2) + '\n')
  log(`\nwrote ${file}`)
  if (smoke && r.gateFailures.length > 0) {
    log(`\nsmoke gate FAILED:\n${r.gateFailures.map((x) => `  - ${x}`).join('\n')}`)
    return 1
  }
  return 0
}

main().then((code) => { process.exitCode = code }, async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  await stopAll()
  process.exitCode = 1
})
