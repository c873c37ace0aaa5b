import { describe, expect, it } from 'vitest'
import { applied, decideReload, followTarget, initialState, isConfigEvent, queueCheck, refused, type FileRead } from '../../src/config/reload.js'

const FILE = '/etc/corral/proxy.config.json'
const EDIT = { force: false, retry: false }
const text = (t: string, version: string): FileRead => ({ text: t, version })

describe('decideReload', () => {
  const inForce = initialState('v1', 1000)

  it('parses bytes of a new version, and skips the version in force', () => {
    expect(decideReload(inForce, text('{"a":2}', 'v2'), EDIT, FILE)).toEqual({ kind: 'parse', text: '{"a":2}', version: 'v2' })
    expect(decideReload(inForce, text('{"a":1}', 'v1'), EDIT, FILE)).toEqual({ kind: 'unchanged', state: inForce })
  })

  it('re-reads unchanged bytes when forced (SIGHUP)', () => {
    expect(decideReload(inForce, text('{"a":1}', 'v1'), { force: true, retry: false }, FILE)).toMatchObject({ kind: 'parse', version: 'v1' })
  })

  it('looks once more at a vanished or empty file, then refuses a vanished one naming the file', () => {
    const gone: FileRead = { code: 'ENOENT', message: 'no such file' }
    expect(decideReload(inForce, gone, EDIT, FILE)).toEqual({ kind: 'look-again' })
    expect(decideReload(inForce, text('  \n', 've'), EDIT, FILE)).toEqual({ kind: 'look-again' })
    expect(decideReload(inForce, gone, { force: false, retry: true }, FILE)).toEqual({ kind: 'refuse-unreadable', message: `cannot read ${FILE}: ENOENT` })
    // Empty on the second look: parsed, so the parser names what is wrong with it.
    expect(decideReload(inForce, text('', 've'), { force: false, retry: true }, FILE)).toMatchObject({ kind: 'parse', version: 've' })
    expect(decideReload(inForce, { code: undefined, message: 'EISDIR-ish' }, EDIT, FILE)).toEqual({ kind: 'refuse-unreadable', message: `cannot read ${FILE}: EISDIR-ish` })
  })

  it('does not refuse the same broken bytes twice, but clears the refusal once the file is back to the config in force', () => {
    const broken = refused(inForce, { message: 'invalid JSON', keyPath: '' }, 'vbad', 2000)
    expect(broken).toEqual({ version: 'v1', loadedAt: 1000, rejected: { message: 'invalid JSON', keyPath: '', at: 2000 }, rejectedVersion: 'vbad' })
    expect(decideReload(broken, text('{', 'vbad'), EDIT, FILE)).toEqual({ kind: 'unchanged', state: broken })
    const undone = decideReload(broken, text('{"a":1}', 'v1'), EDIT, FILE)
    expect(undone).toEqual({ kind: 'unchanged', state: inForce })
    if (undone.kind !== 'unchanged') throw new Error('unreachable')
    // Saved again after the undo: a new edit, refused again.
    expect(decideReload(undone.state, text('{', 'vbad'), EDIT, FILE)).toMatchObject({ kind: 'parse', version: 'vbad' })
  })

  it('an applied edit clears any refusal and records when', () => {
    expect(applied('v3', 5000)).toEqual({ version: 'v3', loadedAt: 5000, rejected: null, rejectedVersion: null })
  })
})

describe('watching helpers', () => {
  it('queues at most one check, forced if any request was', () => {
    expect(queueCheck(null, { force: false, retry: true })).toEqual({ force: false, retry: true })
    expect(queueCheck({ force: true, retry: false }, { force: false, retry: false })).toEqual({ force: true, retry: false })
  })

  it('counts an event for the file, an event without a name, and any event behind a link', () => {
    expect(isConfigEvent('proxy.config.json', 'proxy.config.json', false)).toBe(true)
    expect(isConfigEvent(null, 'proxy.config.json', false)).toBe(true)
    expect(isConfigEvent('other.json', 'proxy.config.json', false)).toBe(false)
    expect(isConfigEvent('..data_tmp', 'proxy.config.json', true)).toBe(true)
  })

  it('watches the real file\'s directory only when a link leads elsewhere, and follows a rename within it', () => {
    const real = { dir: '/data/..2026_a', name: 'proxy.config.json' }
    expect(followTarget('/etc/corral', false, { dir: '/etc/corral', name: 'proxy.config.json' }, null)).toEqual({ kind: 'unwatch' })
    expect(followTarget('/etc/corral', true, { dir: '/etc/corral', name: 'real.json' }, null)).toEqual({ kind: 'unwatch' })
    expect(followTarget('/etc/corral', true, real, null)).toEqual({ kind: 'watch', target: real })
    expect(followTarget('/etc/corral', true, { ...real, name: 'renamed.json' }, real)).toEqual({ kind: 'rename', name: 'renamed.json' })
    expect(followTarget('/etc/corral', true, { dir: '/data/..2026_b', name: 'proxy.config.json' }, real)).toEqual({ kind: 'watch', target: { dir: '/data/..2026_b', name: 'proxy.config.json' } })
  })
})
