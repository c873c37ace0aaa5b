import { describe, expect, it } from 'vitest'
import { configVersion, parseConfig } from '../../src/config/load.js'
import { problemsOf } from '../../src/config/schema-errors.js'
import { ConfigError } from '../../src/core/errors.js'
import { parseBytes, parseDurationMs } from '../../src/config/units.js'

const ORIGIN = { url: 'http://127.0.0.1:3000' }

describe('sizes and durations with units (issue 26, friction 7)', () => {
  it('reads durations and sizes', () => {
    expect([parseDurationMs('500ms'), parseDurationMs('30s'), parseDurationMs('1.5s'), parseDurationMs('2m'), parseDurationMs('1h'), parseDurationMs('1d')])
      .toEqual([500, 30_000, 1500, 120_000, 3_600_000, 86_400_000])
    expect([parseBytes('8MB'), parseBytes('8 MiB'), parseBytes('512KB'), parseBytes('1GB'), parseBytes('100b'), parseBytes('2k')])
      .toEqual([8 * 1024 ** 2, 8 * 1024 ** 2, 512 * 1024, 1024 ** 3, 100, 2048])
    expect(parseDurationMs('30')).toBeUndefined()
    expect(parseBytes('8 megabytes')).toBeUndefined()
  })

  it('normalises them into the key\'s own unit when the config loads', () => {
    const { config } = parseConfig(JSON.stringify({
      origin: { ...ORIGIN, timeoutMs: '5s' },
      listen: { drainDelayMs: '10s' },
      cache: { memory: { maxBytes: '64MB', maxTtlSeconds: '500ms' }, maxObjectBytes: '8MB', graceSeconds: '2m' }
    }))
    expect(config.origin.timeoutMs).toBe(5000)
    expect(config.listen.drainDelayMs).toBe(10_000)
    expect(config.cache.memory.maxBytes).toBe(64 * 1024 ** 2)
    expect(config.cache.memory.maxTtlSeconds).toBe(0.5)
    expect(config.cache.maxObjectBytes).toBe(8 * 1024 ** 2)
    expect(config.cache.graceSeconds).toBe(120)
    // The same config written either way has the same version.
    expect(configVersion(JSON.stringify({ origin: ORIGIN, cache: { maxObjectBytes: '1MB' } }))).toBe(configVersion(JSON.stringify({ origin: ORIGIN, cache: { maxObjectBytes: 1048576 } })))
  })

  it('refuses a string that is no size or duration, naming the key, and still checks the limits', () => {
    const problems = (config: unknown): ReturnType<typeof problemsOf> => {
      try {
        parseConfig(JSON.stringify(config))
      } catch (err) {
        return problemsOf(err as ConfigError)
      }
      throw new Error('expected a refusal')
    }
    expect(problems({ origin: { ...ORIGIN, timeoutMs: '30 secs' } })).toEqual([{ keyPath: 'origin.timeoutMs', reason: 'must be a whole number (got "30 secs")' }])
    expect(problems({ origin: ORIGIN, cache: { maxObjectBytes: 'big' } })[0]?.keyPath).toBe('cache.maxObjectBytes')
    // 2h is past origin.timeoutMs's one-hour limit: the schema's limit still applies after the unit.
    expect(problems({ origin: { ...ORIGIN, timeoutMs: '2h' } })[0]).toEqual({ keyPath: 'origin.timeoutMs', reason: 'must be <= 3600000 (got 7200000)' })
    // Keys without a unit in their name take no unit string.
    expect(problems({ origin: { ...ORIGIN, connections: '8' } })[0]?.keyPath).toBe('origin.connections')
  })
})
