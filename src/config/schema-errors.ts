/**
 * The JSON documents operators write (the proxy config, spike scenarios): read, parsed and checked against their
 * schema one way, so both report problems alike: the file, the line and column of a syntax error, or every problem
 * at once, each as a key path (`routes[0].match`, `stages[1].duration`) and a sentence a person can act on.
 */
import { readFileSync } from 'node:fs'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { closestName } from './did-you-mean.js'

/** One thing wrong with a document: where (empty for the file as a whole) and what to do about it. */
export interface Problem {
  readonly keyPath: string
  readonly reason: string
}

/** `/routes/0/match` → `routes[0].match` */
function toKeyPath (instancePath: string): string {
  return instancePath.split('/').slice(1).reduce((path, part) =>
    /^\d+$/.test(part) ? `${path}[${part}]` : path === '' ? part : `${path}.${part}`, '')
}

function join (path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

/**
 * Keys whose value is never quoted, whatever its type: a token put in by mistake as a number, an array or an object
 * was echoed by `corral check`, the "config edit rejected" log line and /flags (issue 23). Only its kind is said.
 */
const SECRET_KEYS: ReadonlySet<string> = new Set(['admin.token'])

function isSecret (path: string): boolean {
  for (const key of SECRET_KEYS) if (path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`)) return true
  return false
}

/** A value as the sentence quotes it: short, JSON-spelled; a secret key's value only by its kind. */
function shown (value: unknown, path: string): string {
  if (isSecret(path)) return `${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value === 'object' ? 'an object' : `a ${typeof value}`}, not shown`
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null'
}

/** Keywords that say "the value has the wrong shape": noise beside a branch that says what is wrong inside it. */
const SHAPE_KEYWORDS = new Set(['type', 'const'])

/**
 * ajv with allErrors reports each failed branch of a oneOf (a flag is `true` or `{ value, note }`): keep the
 * branch that got furthest. A shape error from a oneOf branch is dropped when another error sits below it, or beside
 * it at the same place with more to say (`{ value: true, nte: '…' }` has a typo, not a wrong type); the oneOf summary itself says nothing new.
 */
function usefulErrors (errors: readonly ErrorObject[]): ErrorObject[] {
  const concrete = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if')
  const candidates = concrete.length > 0 ? concrete : [...errors]
  return candidates.filter((e) => {
    if (!SHAPE_KEYWORDS.has(e.keyword) || !e.schemaPath.includes('/oneOf/')) return true
    return !candidates.some((other) => other !== e && (other.instancePath.startsWith(`${e.instancePath}/`) ||
      (other.instancePath === e.instancePath && !SHAPE_KEYWORDS.has(other.keyword))))
  })
}

/** One ajv error as a problem. A schema may give its own sentence with `errorMessage` beside a pattern or a not. */
function describe (e: ErrorObject): Problem {
  const path = toKeyPath(e.instancePath)
  const custom = (e.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage
  if (typeof custom === 'string' && (e.keyword === 'pattern' || e.keyword === 'not')) return { keyPath: path, reason: custom }
  const params = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty)
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}).filter((k) => k !== '$schema')
      const guess = closestName(key, known)
      return { keyPath: join(path, key), reason: guess === undefined ? `unknown key (known here: ${known.join(', ')})` : `unknown key; did you mean "${guess}"?` }
    }
    case 'required':
      return { keyPath: join(path, String(params.missingProperty)), reason: 'is required' }
    case 'enum':
      return { keyPath: path, reason: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')} (got ${shown(e.data, path)})` }
    case 'type': {
      const types = String(params.type).split(',')
      return { keyPath: path, reason: `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')} (got ${shown(e.data, path)})` }
    }
    case 'const':
      return { keyPath: path, reason: `must be ${JSON.stringify(params.allowedValue)} (got ${shown(e.data, path)})` }
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return { keyPath: path, reason: `${e.message ?? 'out of range'} (got ${shown(e.data, path)})` }
    case 'minLength':
      return { keyPath: path, reason: `must be at least ${String(params.limit)} characters long (got ${String((e.data as string).length)})` }
    default:
      return { keyPath: path, reason: e.message ?? 'invalid value' }
  }
}

/** Every problem ajv found, one per key path, in document order. */
function describeSchemaErrors (errors: readonly ErrorObject[]): Problem[] {
  const byPath = new Map<string, Problem>()
  for (const e of usefulErrors(errors)) {
    const problem = describe(e)
    const seen = byPath.get(problem.keyPath)
    // Two branches' type errors at one place say the same thing twice: the union of what each wanted.
    if (seen === undefined) byPath.set(problem.keyPath, problem)
    else if (e.keyword === 'type' && seen.reason.startsWith('must be ') && seen.reason !== problem.reason) {
      byPath.set(problem.keyPath, { keyPath: problem.keyPath, reason: mergeTypes(seen.reason, problem.reason) })
    }
  }
  return [...byPath.values()]
}

/** "must be true or false (got 1)" + "must be an object (got 1)" → "must be true or false or an object (got 1)" */
function mergeTypes (a: string, b: string): string {
  const got = / \(got .*\)$/.exec(a)?.[0] ?? ''
  return `${a.slice(0, a.length - got.length)} or ${b.slice('must be '.length, b.length - got.length)}${got}`
}

/**
 * V8 quotes the text around a JSON syntax error (`Unexpected token 's', ..."token":supersecre"... is not valid JSON`):
 * that text may be a secret (an unquoted admin.token), and the message reaches `corral check`, the log and /flags.
 */
function withoutSnippet (message: string): string {
  return message.replace(/, (?:"|\.\.\.)[\s\S]* is not valid JSON$/, ' (not valid JSON)')
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
export type KeyedError = new (keyPath: string, reason: string, options?: { cause?: unknown }) => Error & { readonly keyPath: string }

/**
 * One error for several problems: named after the first (the key a log line and /flags show), its message lists
 * them all, and `problemsOf` gives them back one by one (`corral check` prints a line each).
 */
export function failWith (Fail: KeyedError, problems: readonly Problem[], cause?: unknown): Error {
  const [first, ...rest] = problems
  if (first === undefined) return new Fail('', 'invalid document', { cause })
  const reason = rest.length === 0 ? first.reason : `${first.reason}; ${rest.map((p) => p.keyPath === '' ? p.reason : `${p.keyPath}: ${p.reason}`).join('; ')}`
  return Object.assign(new Fail(first.keyPath, reason, { cause }), { problems })
}

/** The problems an error from `failWith` (or any keyed error) stands for. */
export function problemsOf (err: Error & { readonly keyPath: string }): readonly Problem[] {
  const problems = (err as { problems?: readonly Problem[] }).problems
  if (problems !== undefined) return problems
  const prefix = err.keyPath === '' ? '' : `${err.keyPath}: `
  return [{ keyPath: err.keyPath, reason: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message }]
}

/**
 * JSON text checked against a compiled schema: the parsed value, or `Fail` thrown with where the JSON broke or every
 * schema problem. `what` names the document in a fallback reason ("invalid config").
 */
export function parseWithSchema (text: string, validate: ValidateFunction, what: string, Fail: KeyedError, prepare?: (raw: unknown) => Problem[]): unknown {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new Fail('', `invalid JSON${jsonErrorPlace(text, err as Error)}: ${withoutSnippet((err as Error).message)}`, { cause: err })
  }
  // A document's own shorthand (the config's units), turned into what the schema checks; its problems come first.
  const prepared = prepare?.(raw) ?? []
  if (prepared.length > 0) throw failWith(Fail, prepared)
  if (!validate(raw)) {
    const problems = describeSchemaErrors(validate.errors ?? [])
    throw failWith(Fail, problems.length > 0 ? problems : [{ keyPath: '', reason: `invalid ${what}` }])
  }
  return raw
}

/** A document's text, or `Fail` naming the file and why it could not be read, in words (ENOENT, EACCES, …). */
export function readDocument (path: string, Fail: KeyedError): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new Fail('', `cannot read ${path}: ${fileErrorText(err)}`, { cause: err })
  }
}

const FILE_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file (ENOENT)',
  EACCES: 'permission denied (EACCES)',
  EISDIR: 'is a directory, not a file (EISDIR)',
  EPERM: 'operation not permitted (EPERM)'
}

/** "no such file (ENOENT)": the code operators search for, with the words they read. */
export function fileErrorText (err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  return code === undefined ? (err as Error).message : FILE_ERRORS[code] ?? code
}
