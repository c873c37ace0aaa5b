/**
 * `npm run bench:origins`: issue 18 item 7. A miss-heavy run (every request a new key, so every request is a fill)
 * against corral in front of one origin server, then two: corral's cost per miss must not grow with the group.
 * Reports requests/s, latency and corral's CPU time per miss (its process tree, from /proc) for each, and the ratios.
 * The origins answer at once (no think time), so what is measured is corral's work, not the origin's. They run in
 * this process with autocannon, on a shared 2-core machine: compare the two figures of one run, not runs.
 *
 *   npm run bench:origins                 10 s per contender after a 2 s warm-up, 3 rounds taking turns
 *   npm run bench:origins -- --smoke      2 s, 1 round
 */
import { parseArgs } from 'node:util'
import { startCorral, stopAll, takeUnexpectedExits, type Corral } from './lib.js'
import { load } from './loadgen/autocannon.js'
import type { LoadResult } from './loadgen/types.js'
import { median } from './rounds.js'
import { metricSum } from './probes.js'
import { treeCpuSeconds } from './proc.js'
import { startOrigin, type BenchOrigin } from './origin.js'

const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false } } })
const smoke = values.smoke === true
const SECONDS = smoke ? 2 : 10
const WARMUP_SECONDS = smoke ? 1 : 2
const ROUNDS = smoke ? 1 : 3
const CONNECTIONS = 32

interface Contender {
  readonly name: string
  readonly corral: Corral
  readonly origins: readonly BenchOrigin[]
  readonly results: Array<LoadResult & { cpuUsPerMiss: number, originRequests: number }>
}

let next = 0

/** One timed run of unique keys against `c`; the fills are counted at the origins. */
async function measure (c: Contender, seconds: number): Promise<LoadResult & { cpuUsPerMiss: number, originRequests: number }> {
  const before = c.origins.reduce((sum, o) => sum + o.requests(), 0)
  const cpu0 = treeCpuSeconds(c.corral.pid)
  const result = await load(c.corral.url, CONNECTIONS, seconds, {
    requests: [{ setupRequest: (req) => ({ ...req, path: `/miss/${next++}` }) }]
  })
  const cpuS = treeCpuSeconds(c.corral.pid) - cpu0
  const originRequests = c.origins.reduce((sum, o) => sum + o.requests(), 0) - before
  return { ...result, originRequests, cpuUsPerMiss: originRequests === 0 ? 0 : cpuS * 1e6 / originRequests }
}

async function main (): Promise<void> {
  const one = await startOrigin(0)
  const a = await startOrigin(0)
  const b = await startOrigin(0)
  // No access log (its cost is the same for both and would only add noise); the embedded cache, bounded.
  const base = { log: { access: false }, cache: { memory: { maxBytes: 64 * 1024 * 1024 } } }
  const contenders: Contender[] = [
    { name: 'one origin', corral: await startCorral({ ...base, origin: { url: one.url } }), origins: [one], results: [] },
    { name: 'two origins', corral: await startCorral({ ...base, origin: { servers: [a.url, b.url] } }), origins: [a, b], results: [] }
  ]
  try {
    for (const c of contenders) await measure(c, WARMUP_SECONDS)
    for (let round = 0; round < ROUNDS; round++) {
      // Taking turns, so a noisy neighbour on the machine hits both alike.
      for (const c of round % 2 === 0 ? contenders : [...contenders].reverse()) c.results.push(await measure(c, SECONDS))
    }
    const rows = contenders.map((c) => ({
      name: c.name,
      rps: median(c.results.map((r) => r.rps)),
      p50Ms: median(c.results.map((r) => r.p50Ms)),
      p99Ms: median(c.results.map((r) => r.p99Ms)),
      cpuUsPerMiss: median(c.results.map((r) => r.cpuUsPerMiss)),
      errors: c.results.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
      fills: c.results.reduce((sum, r) => sum + r.originRequests, 0)
    }))
    const [single, pair] = rows as [typeof rows[0], typeof rows[0]]
    const split = [a.requests(), b.requests()]
    for (const c of contenders) {
      const misses = await metricSum(c.corral.adminUrl, 'corral_origin_requests_total', 'reason="miss"')
      process.stdout.write(`${c.name}: corral counted ${misses} misses\n`)
    }
    process.stdout.write(`\nmiss-heavy run, ${ROUNDS} × ${SECONDS} s, ${CONNECTIONS} connections, every request a new key (medians)\n`)
    for (const r of rows) {
      process.stdout.write(`  ${r.name.padEnd(12)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms  ` +
        `corral CPU ${r.cpuUsPerMiss.toFixed(1)} µs/miss  fills ${r.fills}  errors ${r.errors}\n`)
    }
    process.stdout.write(`  two/one: req/s ${(pair.rps / single.rps).toFixed(2)}, CPU per miss ${(pair.cpuUsPerMiss / single.cpuUsPerMiss).toFixed(2)}; ` +
      `two-origin split ${split[0]}:${split[1]}\n`)
    const exits = takeUnexpectedExits()
    if (exits.length > 0) throw new Error(exits.join('; '))
    if (single.errors + pair.errors > 0) process.exitCode = 1
  } finally {
    await stopAll()
    await Promise.all([one, a, b].map(async (o) => await o.close()))
  }
}

process.once('SIGINT', () => { stopAll().finally(() => process.exit(130)).catch(() => {}) })
await main()
