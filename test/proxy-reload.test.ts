import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config/load.js'
import type { Config } from '../src/config/types.js'
import { keysNeedingRestart, planReload } from '../src/proxy-reload.js'

const ORIGIN = { url: 'http://127.0.0.1:9' }
const MEMCACHED = { servers: ['127.0.0.1:11211'], prefix: 'p:' }

function config (extra: Record<string, unknown> = {}): Config {
  return parseConfig(JSON.stringify({ origin: ORIGIN, ...extra }), process.cwd(), {}).config
}

describe('planReload', () => {
  it('replaces nothing when nothing the parts are built from changed', () => {
    const prev = config({ cache: { memcached: MEMCACHED } })
    expect(planReload(prev, config({ cache: { memcached: MEMCACHED, graceSeconds: 5 } }), false, true))
      .toEqual({ store: false, fleet: false, channel: false })
  })

  it('replaces the store when memcached is switched on, and the purge channel with it', () => {
    expect(planReload(config(), config({ cache: { memcached: MEMCACHED } }), false, false))
      .toEqual({ store: true, fleet: false, channel: true })
  })

  it('replaces the fleet lease alone when only the origin timeout changes', () => {
    const prev = config({ cache: { memcached: MEMCACHED } })
    const next = config({ cache: { memcached: MEMCACHED }, origin: { ...ORIGIN, timeoutMs: 1234 } })
    expect(planReload(prev, next, false, true)).toEqual({ store: false, fleet: true, channel: false })
    expect(planReload(prev, next, false, false).fleet).toBe(false)
  })

  it('replaces the fleet lease alone when the fill deadline or the object bound changes (they size a streamed fill)', () => {
    const prev = config({ cache: { memcached: MEMCACHED } })
    const deadline = config({ cache: { memcached: MEMCACHED }, origin: { ...ORIGIN, fillBodyTimeoutMs: 5000 } })
    const bound = config({ cache: { memcached: MEMCACHED, maxObjectBytes: 2 * 1024 * 1024 } })
    expect(planReload(prev, deadline, false, true)).toEqual({ store: false, fleet: true, channel: false })
    expect(planReload(prev, bound, false, true).fleet).toBe(true)
  })

  it('never replaces a store handed in', () => {
    expect(planReload(config(), config({ cache: { memcached: MEMCACHED } }), true, false))
      .toEqual({ store: false, fleet: false, channel: false })
  })
})

describe('keysNeedingRestart', () => {
  it('names the keys read only at start', () => {
    expect(keysNeedingRestart([{ key: 'listen.port' }, { key: 'cache.graceSeconds' }, { key: 'admin.host' }, { key: 'workers' }]))
      .toEqual(['listen.port', 'admin.host', 'workers'])
  })
})
