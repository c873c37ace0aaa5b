/**
 * The config watcher's decisions, apart from its files and timers (watch.ts does the I/O): given what the watcher
 * knows and what one read of the file gave, what to do. Every rule is unit-tested without a file or a timer.
 */

/** What the watcher knows between checks. */
export interface ReloadState {
  /** Version of the config in force. */
  readonly version: string
  /** Epoch ms the config in force was applied (or watching started). */
  readonly loadedAt: number
  /** Why the latest edit was refused, until a good edit arrives or the file is back to the config in force. */
  readonly rejected: null | { readonly message: string, readonly keyPath: string, readonly at: number }
  /** Version of the refused bytes: saving them again unchanged is no new edit (null: no bytes, e.g. unreadable). */
  readonly rejectedVersion: string | null
}

/** One check: `force` re-reads unchanged bytes (SIGHUP); `retry` is the second look after a vanished or empty file. */
export interface Check {
  readonly force: boolean
  readonly retry: boolean
}

/** What one read of the file gave, with its version computed when there were bytes. */
export type FileRead =
  | { readonly text: string, readonly version: string }
  | { readonly code: string | undefined, readonly message: string, readonly cause?: unknown }

export type ReloadStep =
  /** Mid-save (a rename caught between unlink and link, or truncate and write): look once more after the debounce. */
  | { readonly kind: 'look-again' }
  | { readonly kind: 'refuse-unreadable', readonly message: string }
  /** Nothing new to apply; `state` drops a refusal that no longer describes the file. */
  | { readonly kind: 'unchanged', readonly state: ReloadState }
  | { readonly kind: 'parse', readonly text: string, readonly version: string }

export function initialState (version: string, now: number): ReloadState {
  return { version, loadedAt: now, rejected: null, rejectedVersion: null }
}

export function decideReload (state: ReloadState, read: FileRead, check: Check, file: string): ReloadStep {
  if (!('text' in read)) {
    if (read.code === 'ENOENT' && !check.retry) return { kind: 'look-again' }
    return { kind: 'refuse-unreadable', message: `cannot read ${file}: ${read.code ?? read.message}` }
  }
  // An empty file is most likely a save caught between truncate and write: same treatment as a vanished one.
  if (read.text.trim() === '' && !check.retry) return { kind: 'look-again' }
  if (check.force) return { kind: 'parse', text: read.text, version: read.version }
  // Back to the config in force (an edit undone): the refusal no longer describes the file. The same broken bytes
  // saved again stay refused without a second report; saved after an undo, they are a new edit to refuse again.
  if (read.version === state.version) return { kind: 'unchanged', state: { ...state, rejected: null, rejectedVersion: null } }
  if (read.version === state.rejectedVersion) return { kind: 'unchanged', state }
  return { kind: 'parse', text: read.text, version: read.version }
}

export function applied (version: string, now: number): ReloadState {
  return initialState(version, now)
}

/** `version`: of the refused bytes, or null when there were none to compare later reads with. */
export function refused (state: ReloadState, err: { message: string, keyPath: string }, version: string | null, now: number): ReloadState {
  return { ...state, rejected: { message: err.message, keyPath: err.keyPath, at: now }, rejectedVersion: version }
}

/** One check at a time: a request during a check queues one more (forced if any was), so the last write gets read. */
export function queueCheck (pending: Check | null, next: Check): Check {
  return { force: next.force || pending?.force === true, retry: next.retry }
}

/**
 * Whether a directory event may concern the config: some platforms give no filename, and behind a link any event
 * counts (a Kubernetes ConfigMap update names `..data_tmp` and `..data`, never the file).
 */
export function isConfigEvent (filename: string | null, name: string, linked: boolean): boolean {
  return filename === null || filename === name || linked
}

/** Where the real file lives, when that is not the config path's own directory (a symlink on the way). */
export interface Target {
  readonly dir: string
  readonly name: string
}

export type FollowStep =
  | { readonly kind: 'unwatch' }
  | { readonly kind: 'rename', readonly name: string }
  | { readonly kind: 'watch', readonly target: Target }

/** The watch on the real file's directory: needed when the config path leads to another directory, and only then. */
export function followTarget (dir: string, linked: boolean, real: Target, watching: Target | null): FollowStep {
  if (!linked || real.dir === dir) return { kind: 'unwatch' }
  if (watching?.dir === real.dir) return { kind: 'rename', name: real.name }
  return { kind: 'watch', target: real }
}
