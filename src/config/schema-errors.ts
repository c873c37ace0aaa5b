/**
 * The JSON documents operators write (the proxy config, spike scenarios): read, parsed and checked against their
 * schema one way, so both report problems alike: the file, the line and column of a syntax error, or the key path
 * (`routes[0].match`, `stages[1].duration`) and the reason.
 */
import { readFileSync } from 'node:fs'
import type { ErrorObject, ValidateFunction } from 'ajv'

/** `/routes/0/match` → `routes[0].match` */
function toKeyPath (instancePath: string): string {
  return instancePath.split('/').slice(1).reduce((path, part) =>
    /^\d+$/.test(part) ? `${path}[${part}]` : path === '' ? part : `${path}.${part}`, '')
}

function join (path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

/**
 * The most useful error: the deepest, preferring a concrete keyword over oneOf's summary, and at equal depth an
 * unknown key over a type mismatch (`{ value: true, nte: '…' }` has a typo, not a wrong type). A schema may give
 * its own text for a `pattern` or `not` with `errorMessage` beside it (a pattern that means "a duration like 30s").
 */
function describeSchemaError (errors: readonly ErrorObject[], fallback: string): [string, string] {
  const concrete = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if')
  const candidates = concrete.length > 0 ? concrete : errors
  let best = candidates[0]
  for (const e of candidates) {
    if (best === undefined || e.instancePath.length > best.instancePath.length ||
      (e.instancePath.length === best.instancePath.length && e.keyword === 'additionalProperties' && best.keyword !== 'additionalProperties')) best = e
  }
  if (best === undefined) return ['', fallback]
  const path = toKeyPath(best.instancePath)
  const custom = (best.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage
  if (typeof custom === 'string' && (best.keyword === 'pattern' || best.keyword === 'not')) return [path, custom]
  switch (best.keyword) {
    case 'additionalProperties':
      return [join(path, String((best.params as { additionalProperty: string }).additionalProperty)), 'unknown key']
    case 'required':
      return [join(path, String((best.params as { missingProperty: string }).missingProperty)), 'is required']
    case 'enum':
      return [path, `must be one of ${(best.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`]
    default:
      return [path, best.message ?? 'invalid value']
  }
}

/** " at line 3, column 5" from a JSON.parse error's "at position N" (an editor shows lines, not offsets). */
function jsonErrorPlace (text: string, err: Error): string {
  const position = /at position (\d+)/.exec(err.message)?.[1]
  if (position === undefined) return ''
  const before = text.slice(0, Number(position))
  const line = before.split('\n').length
  return ` at line ${line}, column ${Number(position) - before.lastIndexOf('\n')}`
}

/** An error naming the key path (empty for a file-level problem) and the reason: ConfigError, ScenarioError. */
export type KeyedError = new (keyPath: string, reason: string, options?: { cause?: unknown }) => Error

/**
 * JSON text checked against a compiled schema: the parsed value, or `Fail` thrown with where the JSON broke or the
 * most useful schema error. `what` names the document in a fallback reason ("invalid config").
 */
export function parseWithSchema (text: string, validate: ValidateFunction, what: string, Fail: KeyedError): unknown {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new Fail('', `invalid JSON${jsonErrorPlace(text, err as Error)}: ${(err as Error).message}`, { cause: err })
  }
  if (!validate(raw)) throw new Fail(...describeSchemaError(validate.errors ?? [], `invalid ${what}`))
  return raw
}

/** A document's text, or `Fail` naming the file and why it could not be read (ENOENT, EACCES, …). */
export function readDocument (path: string, Fail: KeyedError): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new Fail('', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
}
