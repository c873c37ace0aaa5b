import { parseArgs } from 'node:util'
import { compareReports, readReport } from './compare.js'
import { makeAdminMetrics, makeFleetMetrics } from './metrics.js'
import { writeReport } from './report.js'
import { runSpike, type Progress, type StageReport } from './run.js'
import { loadScenarioFile, ScenarioError } from './scenario.js'
import { describeThreshold, thresholdsNeedingAdmin, type ThresholdResult } from './thresholds.js'
import { verdictLines } from './verdict.js'
import { MAX_WORKERS } from './workers.js'

export interface SpikeIo {
  readonly stdout: { write (text: string): unknown, isTTY?: boolean }
  readonly stderr: { write (text: string): unknown }
  /** Aborts the run like Ctrl-C. Without it, runSpikeCli listens for SIGINT itself while a run is going. */
  readonly signal?: AbortSignal
}

export const USAGE = `Usage:
  corral spike --target <url> --scenario <file.json> [options]
  corral spike compare <a/report.json> <b/report.json>

Runs a load scenario's stages back to back against --target, checks its thresholds every
second, and writes report.json and report.html. See docs/spike.md.

Options:
  --target <url>        Base URL to load, e.g. http://staging-proxy:8080 (required)
  --scenario <file>     Scenario JSON file (required)
  --report <dir>        Where report.json and report.html go (default: spike-report)
  --admin <url>         corral admin base URL, e.g. http://127.0.0.1:9090: adds origin requests per
                        stage and per second (by reason), from its /metrics. Repeat it for a fleet
                        behind a balancer: the origin figures are summed. Needed by the maxOriginRps
                        and maxOriginRequests thresholds
  --admin-token <t>     Bearer token for --admin (or set CORRAL_ADMIN_TOKEN)
  --workers <n>         Load threads (default 1). One autocannon saturates about one core; the report
                        says when it did
  --quiet               No progress lines, only the summary
  -h, --help            This text

Exit codes: 0 every threshold held; 1 a threshold breached (the run stops early, after the
stage's abortGrace); 2 usage or scenario error; 130 interrupted (the report of what ran is still written).
`

const EXIT_OK = 0
const EXIT_FAILED = 1
const EXIT_USAGE = 2
const EXIT_INTERRUPTED = 130

const defaultIo: SpikeIo = { stdout: process.stdout, stderr: process.stderr }

/**
 * `corral spike …`: `argv` is what follows `spike` on the command line (a leading "spike" is tolerated).
 * Returns the exit code; the caller decides whether to exit.
 */
export async function runSpikeCli (argv: string[], io: SpikeIo = defaultIo): Promise<number> {
  const args = argv[0] === 'spike' ? argv.slice(1) : argv
  if (args[0] === 'compare') return await compareCommand(args.slice(1), io)

  let values
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: 'string' },
        scenario: { type: 'string' },
        report: { type: 'string', default: 'spike-report' },
        admin: { type: 'string', multiple: true },
        'admin-token': { type: 'string' },
        workers: { type: 'string', default: '1' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false }
      }
    }))
  } catch (err) {
    return usageError(io, (err as Error).message)
  }
  if (values.help) {
    io.stdout.write(USAGE)
    return EXIT_OK
  }
  if (values.target === undefined) return usageError(io, '--target is required')
  if (values.scenario === undefined) return usageError(io, '--scenario is required')
  const targetProblem = checkTarget(values.target)
  if (targetProblem !== undefined) return usageError(io, `--target ${targetProblem}`)
  const admins = values.admin ?? []
  for (const admin of admins) {
    const adminProblem = checkTarget(admin)
    if (adminProblem !== undefined) return usageError(io, `--admin ${adminProblem}`)
  }
  const workers = Number(values.workers)
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) return usageError(io, `--workers must be a whole number from 1 to ${MAX_WORKERS}, got ${values.workers}`)

  let scenario
  try {
    scenario = loadScenarioFile(values.scenario)
  } catch (err) {
    if (err instanceof ScenarioError) {
      io.stderr.write(`corral spike: ${values.scenario}: ${err.message}\n`)
      return EXIT_USAGE
    }
    throw err
  }
  const needAdmin = thresholdsNeedingAdmin(scenario)
  if (needAdmin.length > 0 && admins.length === 0) {
    return usageError(io, `${values.scenario}: ${needAdmin.join(', ')} needs --admin (origin requests are read from corral's /metrics)`)
  }

  const token = values['admin-token'] ?? process.env.CORRAL_ADMIN_TOKEN
  const metrics = admins.length === 0 ? undefined : makeFleetMetrics(admins.map((a) => makeAdminMetrics(a, token)))
  const { signal, release } = interruptSignal(io)
  const progress = makeProgressPrinter(io, values.quiet)
  try {
    const result = await runSpike({
      target: values.target,
      scenario,
      signal,
      workers,
      ...(metrics === undefined ? {} : { metrics }),
      onProgress: progress.tick,
      onStageEnd: progress.stageEnd
    })
    const files = await writeReport(values.report, result)
    const lines = verdictLines(result.verdict, result.aborted === 'interrupted')
    if (result.ok) lines[0] = `ok: every threshold held (${result.thresholds.length} checked)`
    io.stdout.write(lines.join('\n') + '\n')
    io.stdout.write(`report: ${files.json}\n        ${files.html}\n`)
    return result.ok ? EXIT_OK : result.aborted === 'interrupted' ? EXIT_INTERRUPTED : EXIT_FAILED
  } finally {
    release()
  }
}

async function compareCommand (args: string[], io: SpikeIo): Promise<number> {
  if (args.length !== 2 || args.some((a) => a.startsWith('-'))) return usageError(io, 'compare needs two report.json paths')
  const [pathA, pathB] = args as [string, string]
  try {
    const [a, b] = await Promise.all([readReport(pathA), readReport(pathB)])
    io.stdout.write(`a = ${pathA}\nb = ${pathB}\n` + compareReports(a, b).join('\n') + '\n')
    return EXIT_OK
  } catch (err) {
    io.stderr.write(`corral spike compare: ${(err as Error).message}\n`)
    return EXIT_USAGE
  }
}

function usageError (io: SpikeIo, message: string): number {
  io.stderr.write(`corral spike: ${message}\n\n${USAGE}`)
  return EXIT_USAGE
}

function checkTarget (text: string): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return `is not a URL: ${text}`
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL'
  // Scenario paths are absolute; a base path here would be silently dropped.
  if (url.pathname !== '/' || url.search !== '') return 'must be scheme://host[:port] without a path; put paths in the scenario'
  return undefined
}

/** The caller's signal, or one tied to SIGINT for the run's duration; a second Ctrl-C kills as usual. */
function interruptSignal (io: SpikeIo): { signal: AbortSignal, release: () => void } {
  if (io.signal !== undefined) return { signal: io.signal, release: () => {} }
  const controller = new AbortController()
  const onSigint = (): void => {
    process.removeListener('SIGINT', onSigint)
    io.stderr.write('\ninterrupted: stopping and writing the report (Ctrl-C again to quit at once)\n')
    controller.abort()
  }
  process.on('SIGINT', onSigint)
  return { signal: controller.signal, release: () => { process.removeListener('SIGINT', onSigint) } }
}

function percent (part: number, whole: number): string {
  return whole === 0 ? '0%' : `${Math.round(part / whole * 100)}%`
}

function cacheMix (cache: Record<string, number>): string {
  const total = Object.values(cache).reduce((a, b) => a + b, 0)
  return Object.entries(cache).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${percent(n, total)}`).join(' ')
}

function makeProgressPrinter (io: SpikeIo, quiet: boolean) {
  const tty = io.stdout.isTTY === true
  let pending = false
  return {
    tick (p: Progress) {
      if (quiet) return
      const line = `[${p.stageIndex + 1}/${p.stageCount}] ${p.stage}  ${(p.elapsedMs / 1000).toFixed(0)}s/${(p.plannedMs / 1000).toFixed(0)}s` +
        `  ${p.rps} req/s  p99 ${p.p99Ms} ms  5xx ${p.fiveXx}  errors ${p.errors}  ${cacheMix(p.cache)}` +
        (p.originRequests === undefined ? '' : `  origin ${p.originRequests}`)
      // On a terminal the line updates in place; in a log, one line per second.
      io.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`)
      pending = tty
    },
    stageEnd (s: StageReport, results: readonly ThresholdResult[]) {
      if (pending) io.stdout.write('\n')
      pending = false
      const origin = s.originRequests === undefined ? '' : `  origin requests ${s.originRequests} (${s.originRps ?? 0}/s)`
      const fiveXx = Object.entries(s.statuses).reduce((n, [code, count]) => code.startsWith('5') ? n + count : n, 0)
      const saturated = s.generator.saturated ? '  (load generator saturated)' : ''
      const bad = results.filter((r) => !r.ok).map(describeThreshold)
      io.stdout.write(`${s.name}: ${s.requests} requests, ${s.rps} req/s, p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms, ` +
        `5xx ${fiveXx}, errors ${s.errors}, ${cacheMix(s.cache)}${origin}${bad.length > 0 ? `  BREACHED ${bad.join('; ')}` : ''}${s.completed ? '' : '  (cut short)'}${saturated}\n`)
    }
  }
}
