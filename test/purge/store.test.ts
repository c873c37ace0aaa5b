/** The entry's purge fields through memcached's codec, L1's sweep, the fill's store check, and the config keys. */
import { describe, expect, it } from 'vitest'
import { decodeRecord, encodeRecord } from '../../src/store/codec.js'
import { MemoryStore } from '../../src/store/memory.js'
import { BanList } from '../../src/purge/bans.js'
import { makeFillPurge, screenForStore } from '../../src/purge/fill-purge.js'
import { DEFAULT_TAG_OPTIONS } from '../../src/purge/tags.js'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/core/errors.js'
import { makeEntry, makeVary } from '../store/records.js'

const T = 1_700_000_000_000

describe('codec', () => {
  it('round-trips tags and requestedAt', () => {
    const entry = makeEntry('h/a', { tags: ['a', 'b'], requestedAt: T - 5 })
    const back = decodeRecord(encodeRecord(entry), 'h/a')
    expect(back).toMatchObject({ tags: ['a', 'b'], requestedAt: T - 5 })
  })

  it('stores nothing for an untagged entry, and decodes it with the fields undefined', () => {
    const plain = makeEntry('h/a', { tags: undefined, requestedAt: undefined })
    const withTags = makeEntry('h/a', { tags: ['x'], requestedAt: undefined })
    expect(encodeRecord(withTags).length - encodeRecord(plain).length).toBe(',"tags":["x"]'.length)
    const back = decodeRecord(encodeRecord(plain), 'h/a')
    expect(back).toMatchObject({ tags: undefined, requestedAt: undefined })
    expect(back !== undefined && 'tags' in back).toBe(true)
  })

  it('refuses an item whose tags are not strings', () => {
    const buf = encodeRecord(makeEntry('h/a', { tags: [1 as unknown as string] }))
    expect(decodeRecord(buf, 'h/a')).toBeUndefined()
  })
})

describe('MemoryStore.sweep', () => {
  it('drops, replaces or keeps each entry; Vary indexes are left alone', () => {
    const store = new MemoryStore({ maxBytes: 1_000_000 })
    store.set('h/a', makeEntry('h/a'), 60_000)
    store.set('h/b', makeEntry('h/b'), 60_000)
    store.set('h/c', makeEntry('h/c'), 60_000)
    store.set('h/v', makeVary('h/v'), 60_000)
    const touched = store.sweep((e) => e.key === 'h/a' ? undefined : e.key === 'h/b' ? { ...e, freshUntil: 1 } : e)
    expect(touched).toBe(2)
    expect(store.get('h/a')).toBeUndefined()
    expect(store.get('h/b')).toMatchObject({ freshUntil: 1 })
    expect(store.get('h/c')).toBeDefined()
    expect(store.get('h/v')).toBeDefined()
  })
})

describe('screenForStore', () => {
  it('keeps, softens or refuses a fill by the records issued since it asked the origin; caps its memcached lifetime', () => {
    const bans = new BanList(30_000)
    const purge = makeFillPurge(DEFAULT_TAG_OPTIONS, bans, 86_400_000, new Set())
    expect([...purge.dropHeaders]).toEqual(['surrogate-key', 'cache-tag'])
    const entry = makeEntry('h/a', { tags: ['a'], requestedAt: T, storedAt: T + 100, freshUntil: T + 60_000 })
    expect(screenForStore(purge, entry, 10 * 86_400_000)).toEqual({ entry, ttlMs: 86_400_000 })
    bans.add({ kind: 'tag', value: 'a', host: '', at: T + 50, soft: true })
    expect(screenForStore(purge, entry, 1000)?.entry.freshUntil).toBe(T + 50)
    bans.add({ kind: 'tag', value: 'a', host: '', at: T + 60, soft: false })
    expect(screenForStore(purge, entry, 1000)).toBeNull()
  })
})

describe('config: cache.tags and cache.purge', () => {
  const base = { origin: { url: 'http://127.0.0.1:1' } }
  const rejected = (cache: unknown): string => {
    try {
      parseConfig(JSON.stringify({ ...base, cache }))
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      return (err as ConfigError).message
    }
    throw new Error('expected the config to be rejected')
  }

  it('has defaults', () => {
    const { config } = parseConfig(JSON.stringify(base))
    expect(config.cache.tags).toEqual({ headers: ['surrogate-key', 'cache-tag'], removeFromResponse: true })
    expect(config.cache.purge).toEqual({ pollIntervalMs: 250, softStaleSeconds: 30, recordTtlSeconds: 86400 })
  })

  it('refuses bad values naming the key', () => {
    expect(rejected({ purge: { pollIntervalMs: 5000 } })).toContain('cache.purge.pollIntervalMs')
    expect(rejected({ purge: { softStaleSeconds: 0 } })).toContain('cache.purge.softStaleSeconds')
    expect(rejected({ purge: { recordTtlSeconds: 3e6 } })).toContain('cache.purge.recordTtlSeconds')
    expect(rejected({ tags: { headers: ['bad header'] } })).toContain('cache.tags.headers')
    expect(rejected({ tags: { removeFromResponse: 'yes' } })).toContain('cache.tags.removeFromResponse')
  })
})
