import { describe, expect, it } from 'vitest'
import { isShareable, isStreamable, STREAM_FROM_BYTES } from '../../src/origin/growing-fill.js'
import { isRangeForOrigin } from '../../src/policy/range.js'

describe('which fills stream to their clients as they arrive', () => {
  const max = 32 * 1024 * 1024
  it('streams a stored answer with a Content-Length from STREAM_FROM_BYTES up to maxObjectBytes', () => {
    expect(isStreamable(STREAM_FROM_BYTES, max)).toBe(true)
    expect(isStreamable(max, max)).toBe(true)
    expect(isStreamable(STREAM_FROM_BYTES - 1, max)).toBe(false)
    expect(isStreamable(max + 1, max)).toBe(false)
    // No Content-Length (chunked transfer): read whole first, as before.
    expect(isStreamable(NaN, max)).toBe(false)
  })

  it('shares (never stores) an answer over maxObjectBytes only when its length is known', () => {
    expect(isShareable(max + 1, max)).toBe(true)
    expect(isShareable(max, max)).toBe(false)
    expect(isShareable(NaN, max)).toBe(false)
  })
})

describe('which Range requests go to the origin', () => {
  it('a GET with Range whose answer is not an origin error', () => {
    expect(isRangeForOrigin('GET', 'bytes=0-99', 200)).toBe(true)
    expect(isRangeForOrigin('GET', 'bytes=0-99', 404)).toBe(true)
    expect(isRangeForOrigin('GET', undefined, 200)).toBe(false)
    expect(isRangeForOrigin('HEAD', 'bytes=0-99', 200)).toBe(false)
    expect(isRangeForOrigin('GET', 'bytes=0-99', 503)).toBe(false)
  })
})
