import { describe, expect, it } from 'vitest'
import { connectionsCheckIntervalMs, makeServerOptions } from '../src/receive.js'

describe('makeServerOptions (issue 13)', () => {
  it('bounds headers apart from the request, capped at requestTimeoutMs as node requires', () => {
    expect(makeServerOptions({ host: 'h', port: 0, requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5000, firstByteTimeoutMs: 5000, maxUnwrittenBytes: 8388608, drainDelayMs: 0 }))
      .toMatchObject({ requestTimeout: 30_000, headersTimeout: 10_000, connectionsCheckingInterval: 1000, keepAliveTimeout: 5000, joinDuplicateHeaders: true })
    expect(makeServerOptions({ host: 'h', port: 0, requestTimeoutMs: 2000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5000, firstByteTimeoutMs: 5000, maxUnwrittenBytes: 8388608, drainDelayMs: 0 }))
      .toMatchObject({ requestTimeout: 2000, headersTimeout: 2000, connectionsCheckingInterval: 200 })
  })

  it('checks every tenth of the shortest timeout, between 100 ms and 1 s', () => {
    expect(connectionsCheckIntervalMs(1000)).toBe(100)
    expect(connectionsCheckIntervalMs(5000)).toBe(500)
    expect(connectionsCheckIntervalMs(3_600_000)).toBe(1000)
  })
})
