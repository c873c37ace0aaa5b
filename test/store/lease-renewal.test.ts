import { describe, expect, it } from 'vitest'
import { MAX_LEASE_RENEW_MS, renewalSchedule, renewalStep } from '../../src/store/lease-renewal.js'

describe('lease renewal decisions', () => {
  it('touches a lease still ours, retries when memcached did not say, and gives up a lease someone else holds', () => {
    expect(renewalStep('ours', 'ours')).toBe('touch')
    expect(renewalStep('ours', undefined)).toBe('retry')
    expect(renewalStep('ours', null)).toBe('lost')
    expect(renewalStep('ours', 'theirs')).toBe('lost')
  })

  it('renews every half lifetime, for at most MAX_LEASE_RENEW_MS', () => {
    expect(renewalSchedule(1000)).toEqual({ everyMs: 500, times: MAX_LEASE_RENEW_MS / 500 })
    expect(renewalSchedule(1)).toEqual({ everyMs: 1, times: MAX_LEASE_RENEW_MS })
    expect(renewalSchedule(3001).everyMs).toBe(1500)
  })
})
