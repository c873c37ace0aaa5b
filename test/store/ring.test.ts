import { describe, expect, it } from 'vitest'
import { memcachedKey } from '../../src/store/memcached.js'
import { NodeRing, splitHostPort } from '../../src/store/ring.js'

const A = '10.0.0.1:11211'
const B = '10.0.0.2:11211'
const C = '10.0.0.3:11211'

describe('NodeRing', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => memcachedKey('corral:', `example.com/page/${i}`))

  it('moves about a third of the keys when one of three nodes leaves, and only those', () => {
    const three = new NodeRing([A, B, C])
    const two = new NodeRing([A, B])
    let moved = 0
    let onSurvivors = 0
    let stayed = 0
    for (const key of keys) {
      const before = three.nodeFor(key)
      const after = two.nodeFor(key)
      if (before !== after) moved++
      if (before !== C) {
        onSurvivors++
        if (before === after) stayed++
      }
    }
    expect(moved / keys.length).toBeGreaterThan(0.25)
    expect(moved / keys.length).toBeLessThan(0.42)
    expect(stayed / onSurvivors).toBeGreaterThan(0.99)
  })

  it('spreads keys over every node and is deterministic', () => {
    const ring = new NodeRing([A, B, C])
    const counts = new Map<string, number>()
    for (const key of keys) counts.set(ring.nodeFor(key), (counts.get(ring.nodeFor(key)) ?? 0) + 1)
    for (const node of [A, B, C]) expect(counts.get(node)).toBeGreaterThan(2000)
    expect(new NodeRing([C, A, B]).nodeFor(keys[0] as string)).toBe(ring.nodeFor(keys[0] as string))
  })

  it('sends everything to a single node', () => {
    expect(new NodeRing([A]).nodeFor('anything')).toBe(A)
  })

  it('rejects an empty list and malformed nodes', () => {
    expect(() => new NodeRing([])).toThrow(TypeError)
    expect(() => new NodeRing(['localhost'])).toThrow(TypeError)
    expect(() => new NodeRing([A, A])).toThrow(TypeError)
  })
})

describe('splitHostPort (issue 16: IPv6 memcached nodes)', () => {
  it('takes host:port and [ipv6]:port, and refuses ports outside 1-65535 and unbracketed IPv6', () => {
    expect(splitHostPort('127.0.0.1:11211')).toEqual({ host: '127.0.0.1', port: 11211 })
    expect(splitHostPort('[::1]:11211')).toEqual({ host: '::1', port: 11211 })
    expect(splitHostPort('cache-1.internal:65535')).toEqual({ host: 'cache-1.internal', port: 65535 })
    for (const bad of ['127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:99999', '::1:11211', '[::1]', 'host', 'a b:1']) {
      expect(splitHostPort(bad), bad).toBeNull()
    }
    expect(new NodeRing(['[::1]:11211', A]).nodes).toEqual(['[::1]:11211', A])
    expect(() => new NodeRing(['127.0.0.1:99999'])).toThrow(/host:port/)
  })
})
