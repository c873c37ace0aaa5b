import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { sizeWarnings } from '../../src/config/size-warnings.js'

function configOf (cache: Record<string, unknown>): ReturnType<typeof parseConfig>['config'] {
  return parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:9' }, cache })).config
}

describe('corral check: object and cache sizes', () => {
  it('says nothing for the defaults: L1 holds the largest storable object', () => {
    const config = configOf({})
    expect(config.cache.maxObjectBytes).toBe(32 * 1024 * 1024)
    expect(sizeWarnings(config)).toEqual([])
  })

  it('warns, naming both keys, when maxObjectBytes exceeds what L1 can hold', () => {
    const [warning, ...rest] = sizeWarnings(configOf({ maxObjectBytes: 100 * 1024 * 1024, memory: { maxBytes: 64 * 1024 * 1024 } }))
    expect(rest).toEqual([])
    expect(warning).toContain('cache.maxObjectBytes (104857600) exceeds what L1 can hold (cache.memory.maxBytes 67108864)')
    expect(warning).toContain('never stored (no memcached)')
    const withMemcached = sizeWarnings(configOf({ maxObjectBytes: 64 * 1024 * 1024, memcached: { servers: ['127.0.0.1:11211'] } }))
    expect(withMemcached[0]).toContain('read from memcached chunks on every request')
  })
})
