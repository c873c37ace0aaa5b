import { isDeepStrictEqual } from 'node:util'
import type { Config, FlagEntry, FlagValue } from './types.js'

/**
 * The flags in force, resolved once per config load so the pipeline reads plain fields per request.
 * `switches` holds every flag by name (the built-ins too, with their defaults filled in), so a route's
 * `flag` is one Map lookup and the reload log can diff one map.
 */
export interface Flags {
  readonly cacheOnly: boolean
  readonly shedPercent: number
  readonly adaptiveConcurrency: boolean
  readonly trace: boolean
  readonly switches: ReadonlyMap<string, FlagValue>
  /** The operator's `note` per flag, for GET /flags; not used on the request path. */
  readonly notes: ReadonlyMap<string, string>
}

export interface FlagChange { flag: string, from: unknown, to: unknown }
export interface ConfigChange { key: string, from: unknown, to: unknown }

// The schema gives the built-ins no default (an absent flag is "not flipped"), so their off values live here.
const BUILT_IN_DEFAULTS: ReadonlyArray<readonly [string, FlagValue]> = [
  ['cacheOnly', false],
  ['shedPercent', 0],
  ['adaptiveConcurrency', false],
  ['trace', false]
]

export function flagValue (entry: FlagEntry): FlagValue {
  return typeof entry === 'object' ? entry.value : entry
}

export function resolveFlags (config: Config): Flags {
  const switches = new Map<string, FlagValue>(BUILT_IN_DEFAULTS)
  const notes = new Map<string, string>()
  for (const [name, entry] of Object.entries(config.flags)) {
    switches.set(name, flagValue(entry))
    if (typeof entry === 'object' && entry.note !== undefined) notes.set(name, entry.note)
  }
  // load.ts has checked the built-ins' types against the schema; the typeof guards only narrow.
  const cacheOnly = switches.get('cacheOnly')
  const shedPercent = switches.get('shedPercent')
  const adaptiveConcurrency = switches.get('adaptiveConcurrency')
  const trace = switches.get('trace')
  return {
    cacheOnly: cacheOnly === true,
    shedPercent: typeof shedPercent === 'number' ? Math.min(100, Math.max(0, shedPercent)) : 0,
    adaptiveConcurrency: adaptiveConcurrency === true,
    trace: trace === true,
    switches,
    notes
  }
}

/** Every flag with its value and the operator's note: the `flags` of GET /flags. */
export function flagsRecord (flags: Flags): Record<string, { value: FlagValue, note: string | null }> {
  return Object.fromEntries([...flags.switches].map(([name, value]) => [name, { value, note: flags.notes.get(name) ?? null }]))
}

/** What the reload log shows: every flag whose value changed (all of them on the first load, `a` undefined). */
export function diffFlags (a: Flags | undefined, b: Flags): FlagChange[] {
  const changes: FlagChange[] = []
  for (const [flag, to] of b.switches) {
    const from = a?.switches.get(flag)
    if (from !== to) changes.push({ flag, from, to })
  }
  if (a !== undefined) {
    for (const [flag, from] of a.switches) {
      if (!b.switches.has(flag)) changes.push({ flag, from, to: undefined })
    }
  }
  return changes
}

/** Keys whose values are secrets: a change is reported, its values are not (the reload log is no place for them). */
const SECRET_KEYS: ReadonlySet<string> = new Set(['admin.token'])
const REDACTED = '[redacted]'

/**
 * Dotted paths of the leaves that changed between two configs, for the reload log line. `flags` is left
 * out (diffFlags reports it without the notes' noise); arrays (routes, servers) compare as whole values,
 * since an index-by-index diff of a reordered list reads worse than the two lists. A secret (admin.token)
 * shows as "[redacted]" when set and undefined when not, so the log says a token was set, changed or removed.
 */
export function diffConfig (a: Config, b: Config): ConfigChange[] {
  const changes: ConfigChange[] = []
  diffValues(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>, '', changes)
  return changes
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function diffValues (a: Record<string, unknown>, b: Record<string, unknown>, prefix: string, out: ConfigChange[]): void {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  for (const name of keys) {
    if (prefix === '' && name === 'flags') continue
    const key = prefix === '' ? name : `${prefix}.${name}`
    const from = a[name]
    const to = b[name]
    if (isPlainObject(from) && isPlainObject(to)) {
      diffValues(from, to, key, out)
    } else if (!isDeepStrictEqual(from, to)) {
      out.push(SECRET_KEYS.has(key) ? { key, from: redact(from), to: redact(to) } : { key, from, to })
    }
  }
}

function redact (value: unknown): unknown {
  return value === undefined ? undefined : REDACTED
}
