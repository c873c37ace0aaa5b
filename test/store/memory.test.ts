import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../../src/store/memory.js'
import { cacheStoreContract } from './contract.js'
import { makeEntry, uniqueKey } from './records.js'

const perf = { t: 1000, now () { return this.t } }
cacheStoreContract('memory', () => new MemoryStore({ maxBytes: 10_000_000, perf }), { advanceClock: (ms) => { perf.t += ms } })

describe('MemoryStore', () => {
  it('answers synchronously', () => {
    const store = new MemoryStore({ maxBytes: 1_000_000 })
    const key = uniqueKey()
    store.set(key, makeEntry(key), 60_000)
    expect(store.get(key)).toEqual(makeEntry(key))
  })
})
