import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/core/errors.js'
import { describeCompress, makeCompressSettings } from '../../src/compress/settings.js'

const ORIGIN = { url: 'http://127.0.0.1:3000' }

function rejection (compress: unknown): ConfigError {
  try {
    parseConfig(JSON.stringify({ origin: ORIGIN, cache: { compress } }))
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected the config to be rejected')
}

describe('cache.compress', () => {
  it('is on by default with br and gzip at the measured levels', () => {
    const { config } = parseConfig(JSON.stringify({ origin: ORIGIN }))
    expect(config.cache.compress).toMatchObject({ enabled: true, encodings: ['br', 'gzip'], brotliQuality: 6, gzipLevel: 6, minBytes: 1400 })
    const settings = makeCompressSettings(config.cache.compress)
    expect(settings?.codings).toEqual(['br', 'gzip'])
    expect(settings?.isCompressibleType('text/html')).toBe(true)
    expect(settings?.isCompressibleType('image/jpeg')).toBe(false)
  })

  it('refuses bad values, naming the key', () => {
    expect(rejection({ encodings: ['deflate'] }).keyPath).toBe('cache.compress.encodings[0]')
    expect(rejection({ brotliQuality: 12 }).keyPath).toBe('cache.compress.brotliQuality')
    expect(rejection({ gzipLevel: 0 }).keyPath).toBe('cache.compress.gzipLevel')
    expect(rejection({ minBytes: -1 }).keyPath).toBe('cache.compress.minBytes')
    expect(rejection({ types: ['html'] }).keyPath).toBe('cache.compress.types[0]')
    expect(rejection({ enabled: 'yes' }).keyPath).toBe('cache.compress.enabled')
    expect(rejection({ level: 5 }).keyPath).toBe('cache.compress.level')
  })

  it('off, or with nothing the runtime can make, resolves to no settings at all', () => {
    const { config } = parseConfig(JSON.stringify({ origin: ORIGIN, cache: { compress: { enabled: false } } }))
    expect(makeCompressSettings(config.cache.compress)).toBeUndefined()
    expect(describeCompress(config.cache.compress)).toEqual(['compression: off (cache.compress.enabled is false)'])
  })

  it('corral check says what is compressed, and that zstd is skipped where node:zlib lacks it', async () => {
    const { config } = parseConfig(JSON.stringify({ origin: ORIGIN, cache: { compress: { encodings: ['zstd', 'gzip'] } } }))
    const lines = describeCompress(config.cache.compress)
    const zlib = await import('node:zlib') as unknown as Record<string, unknown>
    if (typeof zlib['zstdCompress'] === 'function') {
      expect(lines).toEqual([expect.stringMatching(/^compression: zstd 3, gzip 6 at fill time/)])
    } else {
      expect(lines[0]).toMatch(/zstd is not available in Node .* skipped/)
      expect(lines[1]).toMatch(/^compression: gzip 6 at fill time, for text\/\* .* 1400-1048576 bytes$/)
      expect(makeCompressSettings(config.cache.compress)?.codings).toEqual(['gzip'])
    }
  })
})
