import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadConfigFile, type LoadedConfig } from '../../src/config/load.js'
import { watchConfig, type ConfigWatcher } from '../../src/config/watch.js'
import type { ConfigError } from '../../src/core/errors.js'

type Event = { kind: 'apply', next: LoadedConfig, prev: LoadedConfig } | { kind: 'reject', err: ConfigError }

/** Watcher callbacks as a queue: `next()` resolves with the next callback, whenever it comes. No sleeps. */
function eventQueue (): { push: (e: Event) => void, next: () => Promise<Event> } {
  const ready: Event[] = []
  const waiting: Array<(e: Event) => void> = []
  return {
    push (e) {
      const w = waiting.shift()
      if (w !== undefined) w(e)
      else ready.push(e)
    },
    next () {
      const e = ready.shift()
      return e !== undefined ? Promise.resolve(e) : new Promise((resolve) => { waiting.push(resolve) })
    }
  }
}

const ORIGIN = { url: 'http://127.0.0.1:3000' }
let dir: string
let file: string
let watcher: ConfigWatcher
let events: ReturnType<typeof eventQueue>
let initial: LoadedConfig

function write (config: unknown): void {
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2))
}

async function nextApply (): Promise<Extract<Event, { kind: 'apply' }>> {
  const e = await events.next()
  if (e.kind !== 'apply') throw new Error(`expected an apply, got a rejection: ${e.err.message}`)
  return e
}

async function nextReject (): Promise<ConfigError> {
  const e = await events.next()
  if (e.kind !== 'reject') throw new Error(`expected a rejection, got version ${e.next.version} applied`)
  return e.err
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'corral-watch-'))
  file = join(dir, 'proxy.config.json')
  write({ origin: ORIGIN, flags: { cacheOnly: false } })
  initial = loadConfigFile(file)
  events = eventQueue()
  watcher = watchConfig(file, {
    initial,
    debounceMs: 20,
    onApply: (next, prev) => { events.push({ kind: 'apply', next, prev }) },
    onReject: (err) => { events.push({ kind: 'reject', err }) }
  })
})

/** Replace the default watcher with one on `path` (feeding the same queue). */
function watchAt (path: string): LoadedConfig {
  watcher.close()
  const start = loadConfigFile(path)
  watcher = watchConfig(path, {
    initial: start,
    debounceMs: 20,
    onApply: (next, prev) => { events.push({ kind: 'apply', next, prev }) },
    onReject: (err) => { events.push({ kind: 'reject', err }) }
  })
  return start
}

function writeJson (path: string, config: unknown): void {
  writeFileSync(path, JSON.stringify(config, null, 2))
}

afterEach(() => {
  watcher.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('watchConfig', () => {
  it('applies a valid edit', async () => {
    expect(watcher.status()).toMatchObject({ version: initial.version, rejected: null })
    write({ origin: { ...ORIGIN, timeoutMs: 500 }, flags: { cacheOnly: true } })
    const { next, prev } = await nextApply()
    expect(prev).toBe(initial)
    expect(next.config.origin.timeoutMs).toBe(500)
    expect(next.config.flags.cacheOnly).toBe(true)
    expect(watcher.status().version).toBe(next.version)
    expect(next.version).toBe(loadConfigFile(file).version)
  })

  it('applies a rename-style save (temp file renamed over the config)', async () => {
    const temp = join(dir, '.proxy.config.json.swp')
    writeFileSync(temp, JSON.stringify({ origin: { ...ORIGIN, retries: 3 } }))
    renameSync(temp, file)
    const { next } = await nextApply()
    expect(next.config.origin.retries).toBe(3)
    // The watch survives the rename: the next edit is seen too.
    write({ origin: { ...ORIGIN, retries: 2 } })
    expect((await nextApply()).next.config.origin.retries).toBe(2)
  })

  it('rejects broken JSON, a wrong type and an unknown key, keeping the last good config', async () => {
    write('{ "origin": { "url": ')
    const broken = await nextReject()
    expect(broken.message).toMatch(/invalid JSON/)
    expect(watcher.status().version).toBe(initial.version)
    expect(watcher.status().rejected).toMatchObject({ keyPath: '', message: broken.message })

    const cases: Array<[unknown, string]> = [
      [{ origin: ORIGIN, flags: { cacheOnly: 'yes' } }, 'flags.cacheOnly'],
      [{ origin: { ...ORIGIN, timeoutMs: -5 } }, 'origin.timeoutMs'],
      [{ origin: ORIGIN, cache: { bogus: true } }, 'cache.bogus']
    ]
    for (const [config, keyPath] of cases) {
      write(config)
      const err = await nextReject()
      expect(err.keyPath).toBe(keyPath)
      expect(err.message.startsWith(`${keyPath}: `)).toBe(true)
      expect(watcher.status()).toMatchObject({ version: initial.version, rejected: { keyPath, message: err.message } })
    }

    write({ origin: ORIGIN, flags: { cacheOnly: true } })
    const { next, prev } = await nextApply()
    expect(prev).toBe(initial)
    expect(watcher.status()).toMatchObject({ version: next.version, rejected: null })
  })

  it('rejects a vanished file after one retry, and recovers when it is back', async () => {
    unlinkSync(file)
    const err = await nextReject()
    expect(err.message).toMatch(/cannot read .*proxy\.config\.json: ENOENT/)
    expect(watcher.status().rejected).not.toBeNull()
    write({ origin: { ...ORIGIN, connections: 7 } })
    expect((await nextApply()).next.config.origin.connections).toBe(7)
    expect(watcher.status().rejected).toBeNull()
  })

  it('reload() re-reads even unchanged bytes (SIGHUP)', async () => {
    watcher.reload()
    const { next, prev } = await nextApply()
    expect(next.version).toBe(prev.version)
    expect(next).not.toBe(prev)
  })

  it('turns an onApply that throws into a rejection, keeping the old config', async () => {
    watcher.close()
    const local = eventQueue()
    watcher = watchConfig(file, {
      initial,
      debounceMs: 20,
      onApply: () => { throw new Error('pool refused') },
      onReject: (err) => { local.push({ kind: 'reject', err }) }
    })
    write({ origin: { ...ORIGIN, connections: 9 } })
    const e = await local.next()
    expect(e.kind === 'reject' && e.err.message).toMatch(/pool refused/)
    expect(watcher.status().version).toBe(initial.version)
  })
  it('refuses the same broken bytes again after the edit was undone', async () => {
    const broken = '{ "origin": { "url": '
    write(broken)
    const first = await nextReject()
    // Undone: the file holds the config in force again, so no refusal describes it.
    write({ origin: ORIGIN, flags: { cacheOnly: false } })
    await expect.poll(() => watcher.status().rejected).toBeNull()
    write(broken)
    const second = await nextReject()
    expect(second.message).toBe(first.message)
    expect(watcher.status()).toMatchObject({ version: initial.version, rejected: { keyPath: '', message: second.message } })
  })

  it('follows a config that is a symlink to a file in another directory', async () => {
    const elsewhere = join(dir, 'elsewhere')
    const linkDir = join(dir, 'etc')
    mkdirSync(elsewhere)
    mkdirSync(linkDir)
    const real = join(elsewhere, 'real.json')
    const link = join(linkDir, 'proxy.config.json')
    writeJson(real, { origin: ORIGIN })
    symlinkSync(real, link)
    const start = watchAt(link)

    // Edited in place where it lives: the only events are in `elsewhere`.
    writeJson(real, { origin: { ...ORIGIN, retries: 3 } })
    const { next, prev } = await nextApply()
    expect(prev).toBe(start)
    expect(next.config.origin.retries).toBe(3)
    expect(watcher.status().version).toBe(next.version)

    // Saved by an editor (temp file renamed over the target): still seen.
    const temp = join(elsewhere, '.real.json.swp')
    writeJson(temp, { origin: { ...ORIGIN, retries: 2 } })
    renameSync(temp, real)
    expect((await nextApply()).next.config.origin.retries).toBe(2)
  })

  it('follows a Kubernetes ConfigMap update (the ..data link swapped to a new directory)', async () => {
    const mount = join(dir, 'config')
    mkdirSync(join(mount, '..2026_a'), { recursive: true })
    writeJson(join(mount, '..2026_a', 'proxy.config.json'), { origin: ORIGIN })
    symlinkSync('..2026_a', join(mount, '..data'))
    symlinkSync(join('..data', 'proxy.config.json'), join(mount, 'proxy.config.json'))
    const start = watchAt(join(mount, 'proxy.config.json'))

    /** What kubelet does: a new timestamped directory, a ..data_tmp link to it renamed over ..data, the old one removed. */
    const update = (from: string, to: string, config: unknown): void => {
      mkdirSync(join(mount, to))
      writeJson(join(mount, to, 'proxy.config.json'), config)
      symlinkSync(to, join(mount, '..data_tmp'))
      renameSync(join(mount, '..data_tmp'), join(mount, '..data'))
      rmSync(join(mount, from), { recursive: true })
    }

    update('..2026_a', '..2026_b', { origin: { ...ORIGIN, connections: 7 } })
    const { next, prev } = await nextApply()
    expect(prev).toBe(start)
    expect(next.config.origin.connections).toBe(7)
    expect(next.version).toBe(loadConfigFile(join(mount, 'proxy.config.json')).version)
    expect(watcher.status()).toMatchObject({ version: next.version, rejected: null })

    // The watch moved with the link: an edit inside the new directory (no event in the mount) is seen too.
    writeJson(join(mount, '..2026_b', 'proxy.config.json'), { origin: { ...ORIGIN, connections: 8 } })
    expect((await nextApply()).next.config.origin.connections).toBe(8)

    update('..2026_b', '..2026_c', { origin: { ...ORIGIN, connections: 9 } })
    expect((await nextApply()).next.config.origin.connections).toBe(9)
  })
})
