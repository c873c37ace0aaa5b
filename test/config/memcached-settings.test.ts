/**
 * `corral check` (parseConfig) and `corral serve` (MemcachedStore) must agree on cache.memcached: a value the check
 * passes must not make the store throw at start, and one the store cannot take must fail the check naming the key.
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/core/errors.js'
import { MemcachedStore } from '../../src/store/memcached.js'
import { freePort } from '../helpers/memcached.js'

function configWith (memcached: Record<string, unknown>): string {
  return JSON.stringify({ origin: { url: 'http://127.0.0.1:3000' }, cache: { memcached } })
}

function rejection (memcached: Record<string, unknown>): ConfigError {
  try {
    parseConfig(configWith(memcached))
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error(`accepted ${JSON.stringify(memcached)}`)
}

/** Starts a store the way `corral serve` does, from the parsed config; throws what the store throws. */
async function startStore (memcached: Record<string, unknown>): Promise<void> {
  const { config } = parseConfig(configWith({ ...memcached, servers: [`127.0.0.1:${await freePort()}`], timeoutMs: 200 }))
  const m = config.cache.memcached
  const store = new MemcachedStore({ servers: m.servers, timeoutMs: m.timeoutMs, retryDownMs: m.retryDownMs, prefix: m.prefix, maxItemBytes: m.maxItemBytes })
  await store.ready
  await store.close()
}

describe('cache.memcached settings: check and serve agree', () => {
  it.each([
    ['a non-ASCII prefix', { prefix: 'café:' }],
    ['a prefix with a space', { prefix: 'my app:' }],
    ['a prefix with a control character', { prefix: 'a\tb' }],
    ['a prefix over 32 characters', { prefix: 'x'.repeat(33) }]
  ])('rejects %s naming cache.memcached.prefix', (_what, memcached) => {
    const err = rejection(memcached)
    expect(err.keyPath).toBe('cache.memcached.prefix')
    expect(err.message).toBe('cache.memcached.prefix: must be at most 32 printable ASCII characters, without spaces')
  })

  it('rejects a maxItemBytes under memcached\'s 1024-byte floor naming cache.memcached.maxItemBytes', () => {
    const err = rejection({ maxItemBytes: 1023 })
    expect(err.keyPath).toBe('cache.memcached.maxItemBytes')
    expect(err.message).toMatch(/^cache\.memcached\.maxItemBytes: must be >= 1024/)
  })

  it('starts a store with the edge values the check accepts', async () => {
    await expect(startStore({ maxItemBytes: 1024 })).resolves.toBeUndefined()
    await expect(startStore({ prefix: '!~' + 'x'.repeat(30) })).resolves.toBeUndefined()
    await expect(startStore({ prefix: '' })).resolves.toBeUndefined()
  })
})
