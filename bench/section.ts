/**
 * What every section is handed and writes to: the run's settings, the counting origin, the load generator, the rows of
 * the results table and the smoke gate's failures; with the small helpers the sections share.
 */
import { startMemcached, type Memcached } from './lib.js'
import type { LoadGenerator } from './loadgen/types.js'
import type { BenchOrigin } from './origin.js'

/** `void`: a target that could not be measured, because the load generator was saturated in every round (rounds.ts). */
export type Verdict = 'ok' | 'MISS' | 'info' | 'skipped' | 'failed' | 'void'

export interface Row {
  readonly section: string
  readonly metric: string
  readonly measured: string
  readonly target: string
  readonly verdict: Verdict
}

export interface Run {
  readonly smoke: boolean
  readonly origin: BenchOrigin
  /** Drives the throughput rounds of sections 1, 5 and 6 (wrk, or autocannon in workers). */
  readonly generator: LoadGenerator
  readonly rows: Row[]
  readonly details: Record<string, unknown>
  /** Reasons the smoke run must fail (stampede past the origin more than once, a non-2xx, a crash). */
  readonly gateFailures: string[]
  /** Throughput timing: rounds, seconds per round, warm-up seconds. */
  readonly rounds: number
  readonly roundS: number
  readonly warmupS: number
}

export interface Section {
  readonly id: string
  readonly name: string
  readonly title: string
  readonly smoke: boolean
  run (r: Run): Promise<void>
}

/** Connections per throughput round. */
export const CONNECTIONS = 64

export function row (r: Run, section: string, metric: string, measured: string, target: string, verdict: Verdict): void {
  r.rows.push({ section, metric, measured, target, verdict })
}

export function log (line: string): void {
  process.stdout.write(`${line}\n`)
}

export const fmt = (n: number, digits = 0): string => Number.isFinite(n) ? n.toFixed(digits) : 'n/a'
export const pct = (n: number): string => Number.isFinite(n) ? `${(n * 100).toFixed(0)}%` : 'n/a'
export const mib = (kb: number): string => Number.isFinite(kb) ? `${(kb / 1024).toFixed(1)} MiB` : 'n/a'

let unique = Date.now()
/** A path no earlier request used, so its first request is a miss. */
export const freshPath = (prefix: string): string => `${prefix}/${(unique++).toString(36)}`

export function atLeast (value: number, target: number): Verdict {
  return Number.isFinite(value) ? (value >= target ? 'ok' : 'MISS') : 'failed'
}

export function atMost (value: number, target: number): Verdict {
  return Number.isFinite(value) ? (value <= target ? 'ok' : 'MISS') : 'failed'
}

export async function withMemcached (r: Run, section: string, fn: (mc: Memcached) => Promise<void>): Promise<void> {
  const mc = await startMemcached()
  if (mc === null) {
    log('  skipped: memcached not installed')
    row(r, section, 'memcached', 'skipped: memcached not installed', '', 'skipped')
    return
  }
  try {
    await fn(mc)
  } finally {
    await mc.stop()
  }
}
