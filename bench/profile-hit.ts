/**
 * `npm run bench:profile-hit`: where a cache hit's time goes. One corral (built dist/) under `node --cpu-prof`, the
 * 1 KB page of section 1 hammered by wrk (64 connections) for a bounded time, then stopped with SIGTERM so V8 writes
 * the profile. Prints the server's CPU per hit (from /proc, as the bench reads it) and the top frames by self and by
 * total time in µs per request, and leaves the .cpuprofile in .tmp/profile/ for Chrome DevTools or speedscope.
 *
 *   npm run bench:profile-hit                                  default config (access log on), 10 s
 *   npm run bench:profile-hit -- --variant log-off             access log off
 *   npm run bench:profile-hit -- --variant memcached           every hit from memcached (L1 off), access log off
 *   npm run bench:profile-hit -- --variant ceiling             the bare node:http server of bench/ceiling.ts, to compare
 *   npm run bench:profile-hit -- --seconds 20 --top 40 --interval-us 100
 *
 * The sampling profiler costs the server a few percent, and the profile includes start-up (amortised over the run's
 * hits, well under a µs per hit at 10 s): read the frames against each other, and ratios from `npm run bench`.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { NO_MEMORY_REDUCER } from '../src/ops/runtime.js'
import { ROOT, startCeiling, startCorral, startMemcached, stopAll, type Memcached } from './lib.js'
import { findWrk, wrkGenerator } from './loadgen/wrk.js'
import { startOrigin } from './origin.js'
import { memcachedStats, metricSum } from './probes.js'
import { treeCpuSeconds } from './proc.js'
import { summarizeProfile, type CpuProfile, type Frame } from './profile-summary.js'
import { CONNECTIONS, fmt, log } from './section.js'

const VARIANTS = ['default', 'log-off', 'memcached', 'ceiling'] as const
type Variant = typeof VARIANTS[number]

function configFor (variant: Variant, originUrl: string, mc: Memcached | null): Record<string, unknown> {
  const base = { origin: { url: originUrl } }
  if (variant === 'default') return base
  if (variant === 'log-off') return { ...base, log: { access: false } }
  return { ...base, log: { access: false }, cache: { memcached: { servers: [mc?.server ?? ''] }, memory: { maxTtlSeconds: 0 } } }
}

function table (title: string, frames: Frame[]): string {
  const lines = frames.map((f) => `  ${fmt(f.selfUs, 2).padStart(7)}  ${fmt(f.totalUs, 2).padStart(7)}  ${f.frame}`)
  return `${title}\n     self    total  (µs per request)\n${lines.join('\n')}`
}

/** The main thread's profile: the largest of the run's, by far (the others are loader threads, idle after start). */
function mainThreadProfile (dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f))
  if (files.length === 0) throw new Error(`no profile written in ${dir}: did the server exit cleanly?`)
  return files.reduce((a, b) => statSync(a).size >= statSync(b).size ? a : b)
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string', default: 'default' },
      seconds: { type: 'string', default: '10' },
      top: { type: 'string', default: '25' },
      'interval-us': { type: 'string', default: '200' }
    },
    strict: true
  })
  const variant = values.variant as Variant
  if (!VARIANTS.includes(variant)) throw new Error(`--variant: one of ${VARIANTS.join(', ')}`)
  // Bounded: a profile of a minute is already tens of megabytes.
  const seconds = Math.min(60, Math.max(2, Number(values.seconds)))
  const intervalUs = Math.max(50, Number(values['interval-us']))
  const version = findWrk()
  if (version === null) throw new Error('wrk is not installed (Debian: apt-get install wrk)')
  const wrk = wrkGenerator(version)
  // A folder per run: node writes a profile per thread (the ceiling's tsx loader runs in one of its own).
  const dir = join(ROOT, `.tmp/profile/hit-${variant}-${Date.now()}`)
  mkdirSync(dir, { recursive: true })
  const origin = await startOrigin(0)
  const mc = variant === 'memcached' ? await startMemcached() : null
  if (variant === 'memcached' && mc === null) throw new Error('memcached is not installed')
  try {
    const flags = [NO_MEMORY_REDUCER, '--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${intervalUs}`]
    const server = variant === 'ceiling' ? await startCeiling(1, flags) : await startCorral(configFor(variant, origin.url, mc), flags)
    const url = `${server.url}/page`
    log(`profiling ${variant === 'ceiling' ? 'the ceiling' : `corral (${variant})`} under wrk, ${CONNECTIONS} connections, ${seconds} s after a 2 s warm-up`)
    const warm = await wrk.run(url, CONNECTIONS, 2)
    const cpu0 = treeCpuSeconds(server.pid)
    const gets0 = mc === null ? 0 : (await memcachedStats(mc.port)).cmd_get ?? 0
    const load = await wrk.run(url, CONNECTIONS, seconds)
    const cpuS = treeCpuSeconds(server.pid) - cpu0
    // How many answers one memcached get served (read-flight.ts shares a get among the reads that join it).
    if (mc !== null) log(`memcached: ${fmt(load.requests / (((await memcachedStats(mc.port)).cmd_get ?? 0) - gets0), 1)} answers per get`)
    const hits = 'adminUrl' in server ? await metricSum(server.adminUrl, 'corral_requests_total', 'cache="HIT"') : NaN
    await server.stop()
    // The readiness probe's one request aside, every answer came from wrk.
    const answered = warm.requests + load.requests
    log(`${fmt(load.rps)} req/s, server ${fmt(cpuS / load.durationS, 2)} cores, ${fmt(cpuS * 1e6 / load.requests, 2)} CPU-µs per request (/proc); ` +
      `wrk ${fmt(load.generatorCpuS / load.durationS, 2)} of a core; ${answered} answers${Number.isNaN(hits) ? '' : `, ${hits} HIT`}`)
    const file = mainThreadProfile(dir)
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
    const summary = summarizeProfile(profile, answered, Number(values.top))
    log(`profile (whole process life, over ${answered} answers): busy ${fmt(summary.busyUs, 2)} µs per request, of which GC ${fmt(summary.gcUs, 2)}`)
    log(table('\nby self time', summary.bySelf))
    log(table('\nby total time (the frame and what it called)', summary.byTotal))
    log(`\nwrote ${file}`)
  } finally {
    await stopAll()
    await origin.close()
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  await stopAll()
  process.exitCode = 1
})
