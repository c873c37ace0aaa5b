import { describe, expect, it } from 'vitest'
import { Trace } from '../src/trace.js'

describe('Trace', () => {
  it('reset leaves nothing of the previous request (traces of fresh hits are reused)', () => {
    const sink = { finish () {} }
    const used = new Trace(1, sink)
    Object.assign(used, { key: 'k', route: '/r', shed: 'cache-only', tier: 'shared', lease: 'held', xCache: 'HIT', coalesced: true, originStatus: 200, originMs: 3, bytes: 9, error: 'E', debug: true, done: true })
    used.reset(2)
    const fresh = new Trace(2, sink)
    expect({ ...used }).toEqual({ ...fresh })
  })
})
