import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/core/errors.js'
import { resolveOriginGroups } from '../../src/config/origin-groups.js'

function rejection (config: unknown): ConfigError {
  try {
    parseConfig(JSON.stringify(config))
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected the config to be rejected')
}

const TWO = ['http://127.0.0.1:3001', 'http://127.0.0.1:3002']

describe('origin groups from the config', () => {
  it('resolves origin.url, origin.servers with weights and named groups, the default group first', () => {
    const { config } = parseConfig(JSON.stringify({
      origin: { servers: ['http://127.0.0.1:3001/', { url: 'http://127.0.0.1:3002/app/', weight: 3 }] },
      origins: { api: { servers: ['http://10.0.0.1:4000'], health: { path: '/healthz' } } },
      routes: [{ match: '/api/', origin: 'api' }]
    }))
    const groups = resolveOriginGroups(config)
    expect(groups.map((g) => g.name)).toEqual(['origin', 'api'])
    expect(groups[0]?.servers).toEqual([
      { url: 'http://127.0.0.1:3001', origin: 'http://127.0.0.1:3001', basePath: '', weight: 1 },
      { url: 'http://127.0.0.1:3002/app', origin: 'http://127.0.0.1:3002', basePath: '/app', weight: 3 }
    ])
    expect(groups[1]?.health).toMatchObject({ path: '/healthz', intervalMs: 2000, upAfter: 2, downAfter: 3 })
    expect(config.routes[0]?.origin).toBe('api')
  })

  it('refuses bad values, naming the key', () => {
    expect(rejection({ origin: {} }).keyPath).toBe('origin.url')
    expect(rejection({ origin: { url: TWO[0], servers: TWO } }).keyPath).toBe('origin.servers')
    expect(rejection({ origin: { servers: [] } }).keyPath).toBe('origin.servers')
    expect(rejection({ origin: { servers: [TWO[0], TWO[0]] } }).keyPath).toBe('origin.servers[1]')
    expect(rejection({ origin: { servers: ['http://[::1'] } }).keyPath).toBe('origin.servers[0]')
    expect(rejection({ origin: { servers: [{ url: 'http://a:1?q=1' }] } }).keyPath).toBe('origin.servers[0].url')
    expect(rejection({ origin: { servers: [{ url: TWO[0], weight: 0 }] } }).keyPath).toBe('origin.servers[0].weight')
    expect(rejection({ origin: { url: TWO[0], health: { intervalMs: 3_600_001 } } }).keyPath).toBe('origin.health.intervalMs')
    expect(rejection({ origin: { url: TWO[0], health: { ejectMs: 0 } } }).keyPath).toBe('origin.health.ejectMs')
    expect(rejection({ origin: { url: TWO[0], health: { path: 'healthz' } } }).keyPath).toBe('origin.health.path')
    expect(rejection({ origin: { url: TWO[0] }, origins: { api: {} } }).keyPath).toBe('origins.api.servers')
    expect(rejection({ origin: { url: TWO[0] }, origins: { api: { servers: TWO, health: { slowStartMs: -1 } } } }).keyPath).toBe('origins.api.health.slowStartMs')
    expect(rejection({ origin: { url: TWO[0] }, origins: { origin: { servers: TWO } } }).keyPath).toBe('origins.origin')
  })

  it('refuses a route naming an unknown group, naming the route and the groups there are', () => {
    const err = rejection({ origin: { url: TWO[0] }, origins: { api: { servers: TWO } }, routes: [{ match: '/', origin: 'apl' }] })
    expect(err.keyPath).toBe('routes[0].origin')
    expect(err.message).toBe('routes[0].origin: names no origin group "apl" (known: origin, api)')
  })

  it('corral check exits non-zero naming the route', { timeout: 30_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-groups-'))
    try {
      const file = join(dir, 'proxy.config.json')
      writeFileSync(file, JSON.stringify({ origin: { servers: TWO }, routes: [{ match: '/api/', origin: 'api' }] }))
      const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'check', '--config', file], { encoding: 'utf8' })
      expect(bad.status).toBe(1)
      expect(bad.stderr).toContain('routes[0].origin: names no origin group "api"')
      writeFileSync(file, JSON.stringify({ origin: { servers: TWO }, origins: { api: { servers: TWO } }, routes: [{ match: '/api/', origin: 'api' }] }))
      const good = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'check', '--config', file], { encoding: 'utf8' })
      expect(good.stdout).toContain(': ok (version')
      expect(good.status).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
