/**
 * Sizes and durations with units in the config: `"maxBytes": "64MB"`, `"timeoutMs": "30s"`, beside plain numbers.
 * Normalised once, when the config loads (before the schema check), so nothing reads a unit per request. The key's
 * own unit (its name ends in Ms, Seconds or Bytes) says what the number is; a string there must carry a unit, and
 * becomes that number. Sizes are binary, as nginx and memcached read them: 1KB = 1KiB = 1024 bytes. Pure.
 */
import type { Problem } from './schema-errors.js'

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)$/i

const MS_PER: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const BYTES_PER: Readonly<Record<string, number>> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/** A duration string in milliseconds, or undefined when it is not one. */
export function parseDurationMs (text: string): number | undefined {
  const m = DURATION.exec(text.trim())
  return m === null ? undefined : Number(m[1]) * (MS_PER[m[2] as string] as number)
}

/** A size string in bytes, or undefined when it is not one. */
export function parseBytes (text: string): number | undefined {
  const m = SIZE.exec(text.trim())
  return m === null ? undefined : Math.round(Number(m[1]) * (BYTES_PER[(m[2] as string)[0]?.toLowerCase() as string] as number))
}

/**
 * Replaces, in place, every unit string under a key ending in Ms, Seconds or Bytes with its number in the key's unit.
 * A string that is no size or duration is left for the schema check to refuse with the key's path, as any wrong type
 * is (`must be a whole number (got "30 secs")`). `flags` are left alone (their names are the operator's own).
 * Returns no problems of its own: the schema's are every problem at once.
 */
export function normaliseUnits (raw: unknown, path = ''): Problem[] {
  if (raw === null || typeof raw !== 'object') return []
  const entries: Array<[string | number, unknown]> = Array.isArray(raw) ? raw.map((v, i) => [i, v]) : Object.entries(raw)
  for (const [key, value] of entries) {
    const keyPath = typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`
    if (keyPath === 'flags') continue
    if (typeof value === 'string' && typeof key === 'string') {
      const converted = convert(key, value)
      if (converted !== undefined && converted !== null) (raw as Record<string, unknown>)[key] = converted
    } else {
      normaliseUnits(value, keyPath)
    }
  }
  return []
}

/** The number, undefined for a string that is no size or duration, null for a key that takes no unit. */
function convert (key: string, value: string): number | undefined | null {
  if (key.endsWith('Ms')) return parseDurationMs(value)
  if (key.endsWith('Seconds')) {
    const ms = parseDurationMs(value)
    return ms === undefined ? undefined : ms / 1000
  }
  if (key.endsWith('Bytes')) return parseBytes(value)
  return null
}
