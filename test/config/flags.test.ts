import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { diffConfig, diffFlags, resolveFlags } from '../../src/config/flags.js'
import type { Config } from '../../src/config/types.js'

function configWith (extra: Record<string, unknown>): Config {
  return parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:3000' }, ...extra })).config
}

describe('resolveFlags', () => {
  it('gives the built-ins their off values when absent', () => {
    const flags = resolveFlags(configWith({}))
    expect(flags).toMatchObject({ cacheOnly: false, shedPercent: 0, adaptiveConcurrency: false, trace: false })
    expect([...flags.switches]).toEqual([['cacheOnly', false], ['shedPercent', 0], ['adaptiveConcurrency', false], ['trace', false]])
  })

  it('reads plain values and { value, note } entries alike', () => {
    const flags = resolveFlags(configWith({
      flags: {
        cacheOnly: { value: true, note: 'incident 42' },
        shedPercent: 30,
        trace: true,
        comments: { value: false, note: 'costs 2 queries per page' },
        maxWidgets: 7
      }
    }))
    expect(flags).toMatchObject({ cacheOnly: true, shedPercent: 30, adaptiveConcurrency: false, trace: true })
    expect(flags.switches.get('comments')).toBe(false)
    expect(flags.switches.get('maxWidgets')).toBe(7)
    expect(flags.notes.get('cacheOnly')).toBe('incident 42')
    expect(flags.notes.get('comments')).toBe('costs 2 queries per page')
    expect(flags.notes.has('shedPercent')).toBe(false)
  })
})

describe('diffFlags', () => {
  it('lists every flag on the first load', () => {
    const flags = resolveFlags(configWith({ flags: { comments: true } }))
    expect(diffFlags(undefined, flags)).toEqual([
      { flag: 'cacheOnly', from: undefined, to: false },
      { flag: 'shedPercent', from: undefined, to: 0 },
      { flag: 'adaptiveConcurrency', from: undefined, to: false },
      { flag: 'trace', from: undefined, to: false },
      { flag: 'comments', from: undefined, to: true }
    ])
  })

  it('lists changed, added and removed flags, and ignores notes', () => {
    const a = resolveFlags(configWith({ flags: { cacheOnly: false, shedPercent: 10, comments: true, old: 1 } }))
    const b = resolveFlags(configWith({ flags: { cacheOnly: { value: false, note: 'new note' }, shedPercent: 60, comments: true, fresh: false } }))
    expect(diffFlags(a, b)).toEqual([
      { flag: 'shedPercent', from: 10, to: 60 },
      { flag: 'fresh', from: undefined, to: false },
      { flag: 'old', from: 1, to: undefined }
    ])
    expect(diffFlags(b, b)).toEqual([])
  })
})

describe('diffConfig', () => {
  it('names changed leaves by dotted path, arrays whole, flags left out', () => {
    const a = configWith({ cache: { graceSeconds: 10, memcached: { servers: ['a:1'] } }, flags: { cacheOnly: false } })
    const b = configWith({
      origin: { url: 'http://127.0.0.1:3000', timeoutMs: 500 },
      cache: { graceSeconds: 10, memcached: { servers: ['a:1', 'b:2'], leaseTtlMs: 900 } },
      flags: { cacheOnly: true },
      routes: [{ match: '/api/' }]
    })
    expect(diffConfig(a, b)).toEqual([
      { key: 'origin.timeoutMs', from: 10000, to: 500 },
      { key: 'cache.memcached.servers', from: ['a:1'], to: ['a:1', 'b:2'] },
      { key: 'cache.memcached.leaseTtlMs', from: undefined, to: 900 },
      { key: 'routes', from: [], to: [{ match: '/api/', origin: 'origin', priority: 'normal', whenShed: { status: 503, retryAfter: 5 } }] }
    ])
    expect(diffConfig(a, configWith({ cache: { graceSeconds: 10, memcached: { servers: ['a:1'] } } }))).toEqual([])
  })

  it('reports an admin.token change without either token', () => {
    const OLD = 'old-token-0123456789'
    const NEW = 'new-token-9876543210'
    const none = configWith({})
    const a = configWith({ admin: { token: OLD } })
    const b = configWith({ admin: { token: NEW } })
    expect(diffConfig(a, b)).toEqual([{ key: 'admin.token', from: '[redacted]', to: '[redacted]' }])
    expect(diffConfig(none, a)).toEqual([{ key: 'admin.token', from: undefined, to: '[redacted]' }])
    expect(diffConfig(b, none)).toEqual([{ key: 'admin.token', from: '[redacted]', to: undefined }])
    expect(diffConfig(a, configWith({ admin: { token: OLD } }))).toEqual([])
    // What the reload log would print: neither token anywhere in it.
    const logged = JSON.stringify([...diffConfig(a, b), ...diffConfig(none, a), ...diffConfig(b, none)])
    expect(logged).not.toContain(OLD)
    expect(logged).not.toContain(NEW)
  })
})
