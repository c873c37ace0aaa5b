import { describe, expect, it } from 'vitest'
import { fleetVersion } from '../../src/config/fleet-version.js'
import { parseConfig } from '../../src/config/load.js'

function fleet (config: Record<string, unknown>): string {
  return fleetVersion(parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:3000' }, ...config })).config)
}

describe('fleetVersion (issue 26, friction 5: CorralConfigDrift)', () => {
  it('is the same for proxies that differ only in per-host fields', () => {
    const base = fleet({ listen: { port: 8080 }, admin: { port: 9090 } })
    expect(fleet({ listen: { port: 8081, host: '0.0.0.0' }, admin: { port: 9091, token: 'a-token-of-16-chars' } })).toBe(base)
    expect(fleet({ workers: 'auto', log: { level: 'debug' }, cache: { memory: { maxBytes: 1 << 30 } } })).toBe(base)
  })

  it('changes with what a fleet must share: flags, routes, origins, cache policy, listen timeouts', () => {
    const base = fleet({})
    expect(fleet({ flags: { shedPercent: 10 } })).not.toBe(base)
    expect(fleet({ routes: [{ match: '/a/' }] })).not.toBe(base)
    expect(fleet({ origin: { url: 'http://127.0.0.1:3001' } })).not.toBe(base)
    expect(fleet({ cache: { graceSeconds: 1 } })).not.toBe(base)
    expect(fleet({ cache: { memory: { maxTtlSeconds: 2 } } })).not.toBe(base)
    expect(fleet({ listen: { drainDelayMs: 1 } })).not.toBe(base)
  })
})
