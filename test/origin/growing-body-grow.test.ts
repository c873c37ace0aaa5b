/** origin/growing-body, unsized: the buffer starts small and doubles up to its capacity, keeping every byte. */
import { describe, expect, it } from 'vitest'
import { GrowingBody } from '../../src/origin/growing-body.js'
import { makePage } from '../../bench/page.js'

describe('an unsized body grows its buffer as it fills', () => {
  it('starts below its capacity, doubles, and holds the bytes in order', () => {
    const page = makePage(700 * 1024)
    const body = new GrowingBody(null, 4 * 1024 * 1024)
    expect(body.capacity).toBe(4 * 1024 * 1024)
    expect(body.buffer.length).toBeLessThan(body.capacity)
    for (let at = 0; at < page.length; at += 48 * 1024) expect(body.append(page.subarray(at, at + 48 * 1024))).toBe(true)
    expect(body.buffer.length).toBeGreaterThanOrEqual(page.length)
    expect(body.buffer.length).toBeLessThanOrEqual(body.capacity)
    expect(body.end()).toBe(true)
    expect(body.whole().equals(page)).toBe(true)
  })

  it('never grows past its capacity: the rest is a relay, as before', () => {
    const body = new GrowingBody(null, 300 * 1024)
    expect(body.append(Buffer.alloc(200 * 1024, 1))).toBe(true)
    expect(body.append(Buffer.alloc(200 * 1024, 2))).toBe(true)
    expect(body.buffer.length).toBe(300 * 1024)
    expect(body.overflowed).toBe(true)
    expect(body.buffer[300 * 1024 - 1]).toBe(2)
  })

  it('a body with a Content-Length is allocated once at that length', () => {
    const body = new GrowingBody(1000)
    expect(body.buffer.length).toBe(1000)
    expect(body.append(Buffer.alloc(1001))).toBe(false)
    expect(body.state).toBe('failed')
  })
})
