import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { Ajv } from 'ajv'
import { parseWithSchema, readDocument } from '../config/schema-errors.js'
import { parsePathsList, parseTemplate } from './paths.js'
import schema from './scenario.schema.json' with { type: 'json' }

export interface Thresholds {
  readonly p99Ms?: number
  readonly p999Ms?: number
  readonly errorRate?: number
  readonly minRps?: number
  readonly maxOriginRps?: number
  /** Fills and refreshes only (reasons miss, expired, refresh): the cacheable load, without passes. */
  readonly maxOriginFillRps?: number
  /** Passes only (reason pass). */
  readonly maxOriginPassRps?: number
  readonly maxOriginRequests?: number
  readonly minHitRatio?: number
  /** A duration ("5s"): breaches this early in a stage are reported, not aborted on. */
  readonly abortGrace?: string
}

export interface ScenarioRequest {
  /** A path, possibly a `{first..last}` template; absent when pathsFile is given. */
  readonly path?: string
  readonly pathsFile?: string
  /** The pathsFile's lines, read by parseScenario. */
  readonly paths?: readonly string[]
  readonly pick: 'uniform' | 'zipf'
  readonly zipfExponent: number
  readonly method: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
  readonly weight: number
}

export interface ScenarioStage {
  readonly name: string
  readonly duration: string
  readonly connections?: number
  readonly rate?: number
  readonly ramp: boolean
  readonly thresholds?: Thresholds
}

/** A scenario file after validation, with schema defaults filled in. */
export interface Scenario {
  readonly name?: string
  readonly seed: number
  readonly timeoutSeconds: number
  readonly requests: readonly ScenarioRequest[]
  readonly stages: readonly ScenarioStage[]
  readonly thresholds?: Thresholds
}

export type LoadKind = 'connections' | 'rate'

/** One stage resolved for the runner: its level, where a ramp starts, and its effective thresholds. */
export interface PlannedStage {
  readonly name: string
  readonly kind: LoadKind
  /** Connections, or requests/s for a rate stage, reached at the end of the stage. */
  readonly level: number
  /** Level the stage starts from: the previous stage's level when ramping, else `level`. */
  readonly fromLevel: number
  /** Upper bound on connections for a rate stage. */
  readonly maxConnections: number
  readonly ramp: boolean
  readonly durationMs: number
  readonly thresholds: Thresholds
  /** abortGrace resolved: live breaches before this much of the stage has run do not abort. */
  readonly abortGraceMs: number
}

export class ScenarioError extends Error {
  readonly code = 'CORRAL_ERR_SCENARIO'
  /** e.g. `stages[1].duration`; empty for a file-level problem. */
  readonly keyPath: string

  constructor (keyPath: string, reason: string, options?: { cause?: unknown }) {
    super(keyPath === '' ? reason : `${keyPath}: ${reason}`, options)
    this.name = 'ScenarioError'
    this.keyPath = keyPath
  }
}

// Rate stages without a connections cap: enough sockets that a slow answer does not hold back the rate
// (open model) without opening thousands of sockets for a big rate.
const DEFAULT_RATE_CONNECTIONS = 100

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true })
const validate = ajv.compile(schema)

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/

/** "500ms" | "30s" | "2m" → milliseconds, or undefined when the text is not a duration. */
export function parseDuration (text: string): number | undefined {
  const match = DURATION.exec(text)
  if (match === null) return undefined
  const value = Number(match[1])
  const unit = match[2]
  const ms = unit === 'ms' ? value : unit === 's' ? value * 1000 : value * 60_000
  return Math.round(ms)
}

// A grace longer than this is a typo for a unit ("30m" for "30s"), and would disable aborts for the whole run.
const MAX_ABORT_GRACE_MS = 3_600_000

/** Reads a pathsFile named in a scenario; relative names resolve against the scenario's directory. */
export type PathsReader = (name: string) => string

/**
 * JSON text → Scenario, or a ScenarioError naming the key path and the reason. A request's pathsFile is read with
 * `readPaths` (default: relative to the current directory) and its lines kept in `paths`.
 */
export function parseScenario (text: string, readPaths: PathsReader = (name) => readFileSync(name, 'utf8')): Scenario {
  const scenario = parseWithSchema(text, validate, 'scenario', ScenarioError) as Scenario
  assertSemantics(scenario)
  return { ...scenario, requests: scenario.requests.map((r, i) => withPaths(r, i, readPaths)) }
}

export function loadScenarioFile (path: string): Scenario {
  const dir = dirname(resolve(path))
  return parseScenario(readDocument(path, ScenarioError), (name) => readFileSync(resolve(dir, name), 'utf8'))
}

function withPaths (r: ScenarioRequest, i: number, readPaths: PathsReader): ScenarioRequest {
  if (r.pathsFile === undefined) return r
  let text: string
  try {
    text = readPaths(r.pathsFile)
  } catch (err) {
    throw new ScenarioError(`requests[${i}].pathsFile`, `cannot read ${r.pathsFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  const parsed = parsePathsList(text)
  if ('reason' in parsed) {
    throw new ScenarioError(`requests[${i}].pathsFile`, parsed.line === 0 ? `${r.pathsFile} ${parsed.reason}` : `${r.pathsFile} line ${parsed.line}: ${parsed.reason}`)
  }
  return { ...r, paths: parsed.paths }
}

/** Stages in run order with levels, ramp starts and thresholds resolved. */
export function planStages (scenario: Scenario): PlannedStage[] {
  const planned: PlannedStage[] = []
  let previous: PlannedStage | undefined
  for (const stage of scenario.stages) {
    const kind: LoadKind = stage.rate !== undefined ? 'rate' : 'connections'
    const level = kind === 'rate' ? stage.rate ?? 1 : stage.connections ?? 1
    // A ramp from a stage of the other kind has no common scale, so it starts from zero.
    const rampStart = previous !== undefined && previous.kind === kind ? previous.level : 0
    const thresholds: Thresholds = { ...scenario.thresholds, ...stage.thresholds }
    const next: PlannedStage = {
      name: stage.name,
      kind,
      level,
      fromLevel: stage.ramp ? rampStart : level,
      maxConnections: kind === 'rate' ? stage.connections ?? Math.min(Math.ceil(level), DEFAULT_RATE_CONNECTIONS) : level,
      ramp: stage.ramp,
      durationMs: parseDuration(stage.duration) ?? 0,
      thresholds,
      abortGraceMs: thresholds.abortGrace === undefined ? 0 : parseDuration(thresholds.abortGrace) ?? 0
    }
    planned.push(next)
    previous = next
  }
  return planned
}

/** Checks the schema cannot express. */
function assertSemantics (scenario: Scenario): void {
  scenario.requests.forEach((r, i) => {
    if ((r.path === undefined) === (r.pathsFile === undefined)) throw new ScenarioError(`requests[${i}]`, 'needs path or pathsFile (one of them)')
    const template = r.path === undefined ? undefined : parseTemplate(r.path)
    if (typeof template === 'string') throw new ScenarioError(`requests[${i}].path`, template)
  })
  const checkGrace = (t: Thresholds | undefined, at: string): void => {
    if (t?.abortGrace !== undefined && (parseDuration(t.abortGrace) ?? 0) > MAX_ABORT_GRACE_MS) throw new ScenarioError(`${at}.abortGrace`, 'must be at most 1h (60m)')
  }
  checkGrace(scenario.thresholds, 'thresholds')
  scenario.stages.forEach((stage, i) => { checkGrace(stage.thresholds, `stages[${i}].thresholds`) })
  const names = new Set<string>()
  scenario.stages.forEach((stage, i) => {
    if (stage.connections === undefined && stage.rate === undefined) {
      throw new ScenarioError(`stages[${i}]`, 'needs connections or rate')
    }
    if ((parseDuration(stage.duration) ?? 0) <= 0) throw new ScenarioError(`stages[${i}].duration`, 'must be longer than 0')
    if (names.has(stage.name)) throw new ScenarioError(`stages[${i}].name`, `duplicate stage name "${stage.name}"`)
    names.add(stage.name)
  })
}

/** One autocannon instance's worth of a stage. */
export interface Slice {
  readonly connections: number
  /** Requests/s across all connections; absent for a connections stage. */
  readonly rate?: number
  readonly durationMs: number
}

const RAMP_STEP_MS = 1000

/**
 * A stage as consecutive autocannon runs. autocannon cannot change its load mid-run, so a ramp is a staircase
 * of 1 s steps ending at the stage's level; a flat stage is one run (fresh connections every second would
 * distort what it measures).
 */
export function planSlices (stage: PlannedStage): Slice[] {
  const steps = stage.ramp ? Math.max(1, Math.ceil(stage.durationMs / RAMP_STEP_MS)) : 1
  const slices: Slice[] = []
  let planned = 0
  for (let i = 0; i < steps; i++) {
    const durationMs = i === steps - 1 ? stage.durationMs - planned : Math.round(stage.durationMs / steps)
    planned += durationMs
    const level = Math.max(1, Math.round(stage.fromLevel + (stage.level - stage.fromLevel) * (i + 1) / steps))
    slices.push(stage.kind === 'rate'
      ? { connections: Math.min(stage.maxConnections, level), rate: level, durationMs }
      : { connections: level, durationMs })
  }
  return slices
}
