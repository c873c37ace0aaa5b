import { realpathSync, watch, type FSWatcher } from 'node:fs'
import { readFile, realpath } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { ConfigError } from '../core/errors.js'
import { systemClock, type Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import { configVersion, parseConfig, type LoadedConfig } from './load.js'
import { applied, decideReload, followTarget, initialState, isConfigEvent, queueCheck, refused, type Check, type FileRead, type ReloadState, type Target } from './reload.js'

export interface WatchOptions {
  /** A valid edit: swap it in. `prev` is the config in force until now. */
  onApply: (next: LoadedConfig, prev: LoadedConfig) => void
  /** An invalid edit (or an unreadable file): `prev` stays in force. */
  onReject: (err: ConfigError) => void
  /** Quiet time after the last file event before the file is read; editors write in several steps. */
  debounceMs?: number
  /** The config in force when watching starts (already validated by the caller). */
  initial: LoadedConfig
  clock?: Clock
}

export interface WatchStatus {
  version: string
  loadedAt: number
  /** Why the latest edit was refused, until a good edit arrives. */
  rejected: null | { message: string, keyPath: string, at: number }
}

export interface ConfigWatcher {
  /** Re-read now, even if the bytes did not change (SIGHUP): also picks up edited whenShed files. */
  reload (): void
  close (): void
  status (): WatchStatus
}

/** The log line for a refused edit, the same from a single process, a cluster primary and its workers. */
export function logRejectedEdit (logger: Logger, err: ConfigError, file: string | undefined): void {
  logger.error({ key: err.keyPath, reason: err.message, file }, 'config edit rejected; the last good config stays in force')
}

function asConfigError (err: unknown): ConfigError {
  return err instanceof ConfigError ? err : new ConfigError('', (err as Error).message ?? String(err), { cause: err })
}

/** The real path, or null while it cannot be resolved (a link caught mid-swap, a vanished file). */
function realPathSync (file: string): string | null {
  try {
    return realpathSync(file)
  } catch {
    return null
  }
}

/**
 * Watches the config file and applies valid edits (Caddy's recipe: decode and validate the whole new
 * config, swap it in, keep the old one on failure). The directory is watched, not the file: editors save
 * by writing a temp file and renaming it over the original, which would orphan a watch on the old inode.
 *
 * A config that is a symlink (or reached through one) is watched where it really lives too: editing a link's
 * target raises events only in the target's directory. In the link's own directory any event counts, since a
 * Kubernetes ConfigMap update swaps the `..data` link and the events name `..data_tmp` and `..data`, never the
 * file (the version hash skips bytes that did not change). The real path is resolved again on each check, so
 * the watch follows a link that now points elsewhere.
 *
 * This function is the I/O only (fs.watch, reads, the debounce timer, the callbacks); what each read means is
 * decided in reload.ts.
 */
export function watchConfig (path: string, opts: WatchOptions): ConfigWatcher {
  const file = resolve(path)
  const dir = dirname(file)
  const name = basename(file)
  const debounceMs = opts.debounceMs ?? 100
  const clock = opts.clock ?? systemClock
  let current = opts.initial
  let state: ReloadState = initialState(current.version, clock.now())
  let timer: ReturnType<typeof setTimeout> | undefined
  let running = false
  let pending: Check | null = null
  let closed = false
  /** The config path resolves to another file than itself (a symlink on the way). */
  let linked = false
  /** The watch on the real file's directory, when that is not `dir`. */
  let target: { dir: string, name: string, watcher: FSWatcher } | null = null

  const reject = (err: ConfigError, version: string | null): void => {
    state = refused(state, err, version, clock.now())
    try {
      opts.onReject(err)
    } catch {
      // The caller's reporting failed; nothing useful is left to do here, and throwing would kill the process.
    }
  }

  const read = async (): Promise<FileRead> => {
    try {
      const text = await readFile(file, 'utf8')
      return { text, version: configVersion(text) }
    } catch (err) {
      return { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message, cause: err }
    }
  }

  const check = async (asked: Check): Promise<void> => {
    const real = await realpath(file).catch(() => null)
    if (closed) return
    if (real !== null) follow(real)
    const got = await read()
    if (closed) return
    const step = decideReload(state, got, asked, file)
    switch (step.kind) {
      case 'look-again':
        schedule({ force: asked.force, retry: true })
        return
      case 'refuse-unreadable':
        reject(new ConfigError('', step.message, { cause: 'cause' in got ? got.cause : undefined }), null)
        return
      case 'unchanged':
        state = step.state
        return
      case 'parse':
        break
    }
    let next: LoadedConfig
    try {
      next = parseConfig(step.text, dir)
    } catch (err) {
      reject(asConfigError(err), step.version)
      return
    }
    try {
      opts.onApply(next, current)
    } catch (err) {
      // A refusal the caller names a key for (admin.token) keeps it, so /flags and the log point at the key.
      reject(err instanceof ConfigError ? err : new ConfigError('', `applying version ${next.version} failed: ${(err as Error).message}`, { cause: err }), step.version)
      return
    }
    current = next
    state = applied(next.version, clock.now())
  }

  const run = (asked: Check): void => {
    if (closed) return
    if (running) {
      pending = queueCheck(pending, asked)
      return
    }
    running = true
    check(asked)
      .catch((err: unknown) => { reject(asConfigError(err), null) })
      .finally(() => {
        running = false
        const again = pending
        pending = null
        if (again !== null) run(again)
      })
  }

  const schedule = (asked: Check): void => {
    if (closed) return
    clearTimeout(timer)
    timer = setTimeout(() => { run(asked) }, debounceMs)
    timer.unref()
  }

  const closeTarget = (): void => {
    target?.watcher.close()
    target = null
  }

  const follow = (real: string): void => {
    linked = real !== file
    const step = followTarget(dir, linked, { dir: dirname(real), name: basename(real) }, target)
    switch (step.kind) {
      case 'unwatch':
        closeTarget()
        return
      case 'rename':
        if (target !== null) target.name = step.name
        return
      case 'watch':
        closeTarget()
        watchTarget(step.target)
    }
  }

  const watchTarget = ({ dir: realDir, name: realName }: Target): void => {
    try {
      const watching: { dir: string, name: string, watcher: FSWatcher } = {
        dir: realDir,
        name: realName,
        watcher: watch(realDir, { persistent: false }, (_event, filename) => {
          if (filename === null || filename === watching.name) schedule({ force: false, retry: false })
        })
      }
      watching.watcher.on('error', (err) => {
        // Dropped; the next check watches the real directory again.
        if (target === watching) closeTarget()
        reject(new ConfigError('', `watching ${realDir} failed: ${err.message}`, { cause: err }), null)
      })
      target = watching
    } catch (err) {
      reject(new ConfigError('', `cannot watch ${realDir}: ${(err as Error).message}`, { cause: err }), null)
    }
  }

  let watcher: FSWatcher | undefined
  try {
    // Not persistent: the listeners keep a serving process alive; the watcher must not keep a draining one.
    watcher = watch(dir, { persistent: false }, (_event, filename) => {
      if (isConfigEvent(filename, name, linked)) schedule({ force: false, retry: false })
    })
    watcher.on('error', (err) => { reject(new ConfigError('', `watching ${dir} failed: ${err.message}`, { cause: err }), null) })
  } catch (err) {
    reject(new ConfigError('', `cannot watch ${dir}: ${(err as Error).message}`, { cause: err }), null)
  }
  const real = realPathSync(file)
  if (real !== null) follow(real)

  return {
    reload () {
      clearTimeout(timer)
      run({ force: true, retry: false })
    },
    close () {
      closed = true
      clearTimeout(timer)
      watcher?.close()
      closeTarget()
    },
    status () {
      return { version: state.version, loadedAt: state.loadedAt, rejected: state.rejected }
    }
  }
}
