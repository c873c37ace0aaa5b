/**
 * wrk (Debian's `wrk` package), the load generator for the throughput sections when it is installed. It is C on epoll
 * with a parser that does no allocation per response: against the 1 KB page one thread uses a fraction of a core where
 * autocannon used all of one, so the server, not the client, sets the pace (rounds.ts).
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { allowedCoreCount } from '../proc.js'
import { runMeasured } from './child.js'
import { generatorCapacity } from '../rounds.js'
import type { GeneratedLoad, LoadGenerator, LoadResult } from './types.js'

const SCRIPT = join(import.meta.dirname, 'wrk-report.lua')
const MARK = 'corral-wrk '

/** wrk's version (`4.1.0`), or null when there is no wrk on PATH. `wrk -v` prints it and exits 1, so only ENOENT means absent. */
export function findWrk (): string | null {
  const out = spawnSync('wrk', ['-v'], { encoding: 'utf8' })
  if (out.error !== undefined) return null
  return /wrk\s+(?:debian\/)?(\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown'
}

/**
 * The line wrk-report.lua prints, as a LoadResult. wrk counts as a status error every answer over 399 (its "Non-2xx or
 * 3xx responses" line says more than it checks), so a 3xx would pass here: none of the pages benchmarked redirects,
 * and section 1 still checks corral's own count of HITs. Throws when the line is missing (wrk failed to start).
 */
export function parseWrkReport (stdout: string): LoadResult {
  const line = stdout.split('\n').find((x) => x.startsWith(MARK))
  if (line === undefined) throw new Error(`wrk printed no report line: ${stdout.trim().slice(-200) || '(nothing)'}`)
  const r = JSON.parse(line.slice(MARK.length)) as Record<string, number>
  const n = (key: string): number => r[key] ?? NaN
  return {
    durationS: n('durationUs') / 1e6,
    rps: n('requests') / (n('durationUs') / 1e6),
    requests: n('requests'),
    p50Ms: n('p50Us') / 1000,
    p99Ms: n('p99Us') / 1000,
    maxMs: n('maxUs') / 1000,
    non2xx: n('status'),
    errors: n('connect') + n('read') + n('write') + n('timeout')
  }
}

/**
 * wrk with `threads` threads (one epoll loop each). One is enough against one node process (see docs/benchmarks.md
 * for what it used here), and a second would only take CPU from the server on 2 cores. wrk inherits the runner's
 * cores, so pinning the runner pins wrk too.
 */
export function wrkGenerator (version: string, threads = 1): LoadGenerator {
  return {
    name: 'wrk',
    label: `wrk ${version}, ${threads} thread${threads === 1 ? '' : 's'}`,
    async run (url, connections, durationS, headers = {}): Promise<GeneratedLoad> {
      const maxCores = generatorCapacity(threads, allowedCoreCount())
      // --timeout: autocannon's default, 10 s. wrk's own 2 s counted a slow answer on a starved machine as an error.
      const args = ['-t', String(threads), '-c', String(Math.max(connections, threads)), '-d', `${Math.max(1, Math.round(durationS))}s`, '--timeout', '10s', '-s', SCRIPT, url]
      for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`)
      const { stdout, cpuS } = await runMeasured('wrk', args)
      return { ...parseWrkReport(stdout), generatorCpuS: cpuS, generatorMaxCores: maxCores }
    }
  }
}
