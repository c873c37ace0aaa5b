/**
 * autocannon: in this process for the sections that need its request hooks (distinct paths per request, a fixed rate),
 * and as a child process with worker threads, the fallback for the throughput sections where wrk is not installed.
 */
import { createRequire } from 'node:module'
import autocannon from 'autocannon'
import { allowedCoreCount } from '../proc.js'
import { generatorCapacity } from '../rounds.js'
import { runMeasured } from './child.js'
import type { GeneratedLoad, LoadGenerator, LoadResult } from './types.js'

/** The fields of autocannon's result that LoadResult reads: the same in its API and in its CLI's `--json` line. */
type AutocannonFigures = Pick<autocannon.Result, 'duration' | 'non2xx' | 'errors' | 'timeouts'> & {
  readonly requests: Pick<autocannon.Result['requests'], 'total'>
  readonly latency: Pick<autocannon.Result['latency'], 'p50' | 'p99' | 'max'>
}

export function toLoadResult (result: AutocannonFigures, durationS: number): LoadResult {
  // total / elapsed rather than the mean of per-second samples: a 1-2 s smoke run has one or two samples.
  const elapsedS = result.duration > 0 ? result.duration : durationS
  return {
    durationS: elapsedS,
    rps: result.requests.total / elapsedS,
    requests: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts
  }
}

export async function load (url: string, connections: number, durationS: number, extra: Partial<autocannon.Options> = {}): Promise<LoadResult> {
  return toLoadResult(await autocannon({ url, connections, duration: durationS, pipelining: 1, ...extra }), durationS)
}

const CLI = createRequire(import.meta.url).resolve('autocannon/autocannon.js')

/**
 * autocannon's CLI in a child process with one worker thread per core the runner may use (2 floating, 1 pinned): a
 * single autocannon event loop costs about a core at section 1's rates, so alone it would set the pace. A process of
 * its own, not worker threads in the runner: its CPU is then its tree's alone (child.ts), and its workers start as
 * plain node, not under the runner's tsx loader.
 */
export function autocannonGenerator (): LoadGenerator {
  return {
    name: 'autocannon',
    label: `autocannon, ${allowedCoreCount()} workers`,
    async run (url, connections, durationS, headers = {}): Promise<GeneratedLoad> {
      const workers = allowedCoreCount()
      const args = [CLI, '-c', String(connections), '-d', String(durationS), '-p', '1', '-w', String(workers), '-j', url]
      for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}=${value}`)
      const { stdout, cpuS } = await runMeasured(process.execPath, args)
      const json = stdout.trim().split('\n').findLast((x) => x.startsWith('{'))
      if (json === undefined) throw new Error(`autocannon printed no result: ${stdout.trim().slice(-200) || '(nothing)'}`)
      const result = toLoadResult(JSON.parse(json) as AutocannonFigures, durationS)
      return { ...result, generatorCpuS: cpuS, generatorMaxCores: generatorCapacity(workers, workers) }
    }
  }
}
