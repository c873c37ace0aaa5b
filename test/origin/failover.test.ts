import { describe, expect, it } from 'vitest'
import { errors as undiciErrors } from 'undici'
import { OriginTimeoutError } from '../../src/core/errors.js'
import { classifyFailure, mayRetry } from '../../src/origin/failover.js'

function coded (code: string): Error {
  return Object.assign(new Error(code), { code })
}

describe('classifyFailure', () => {
  it('tells connection failures, resets and timeouts apart, and ignores what is not the server\'s doing', () => {
    expect(classifyFailure(coded('ECONNREFUSED'))).toBe('connect-failure')
    expect(classifyFailure(coded('ECONNRESET'))).toBe('reset')
    expect(classifyFailure(new undiciErrors.SocketError('other side closed'))).toBe('reset')
    expect(classifyFailure(new undiciErrors.HeadersTimeoutError())).toBe('timeout')
    expect(classifyFailure(new OriginTimeoutError())).toBe('timeout')
    expect(classifyFailure(new undiciErrors.RequestAbortedError())).toBeNull()
  })
})

describe('mayRetry', () => {
  it('sends a GET or HEAD again after a connection failure or a reset', () => {
    expect(mayRetry('GET', false, 'connect-failure')).toBe(true)
    expect(mayRetry('HEAD', false, 'reset')).toBe(true)
  })

  it('never after a timeout, never with a body, never a non-idempotent method', () => {
    expect(mayRetry('GET', false, 'timeout')).toBe(false)
    expect(mayRetry('GET', true, 'reset')).toBe(false)
    expect(mayRetry('POST', false, 'connect-failure')).toBe(false)
    expect(mayRetry('GET', false, null)).toBe(false)
  })
})
