/**
 * Issue 13, item 3: absurd numbers. `origin.timeoutMs: 1e400` (JSON reads it as Infinity) and 99999999999 passed
 * `corral check` and a live reload, then broke every origin request (502 "invalid headersTimeout", or 504 within
 * 3 ms: setTimeout runs a delay past 2^31-1 ms after 1 ms). Every duration and size now has a finite maximum that
 * fits its timer or buffer, and both `corral check` and a reload refuse the rest naming the key.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { startOrigin, answer } from '../helpers/origin.js'
import { get } from '../helpers/proxy.js'
import { startProxyFromFile, type FileProxy } from '../helpers/config-file.js'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/core/errors.js'
import schema from '../../src/config/schema.json' with { type: 'json' }

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close()
})

/** Every duration and size in the schema, as a dotted key path, with where it is set in a config. */
const LIMITED = [
  'listen.requestTimeoutMs', 'listen.headersTimeoutMs', 'listen.keepAliveTimeoutMs', 'listen.drainDelayMs',
  'listen.firstByteTimeoutMs', 'listen.maxUnwrittenBytes',
  'origin.timeoutMs', 'origin.queueTimeoutMs', 'origin.fillBodyTimeoutMs',
  'origin.health.intervalMs', 'origin.health.timeoutMs', 'origin.health.ejectMs', 'origin.health.maxEjectMs', 'origin.health.slowStartMs',
  'cache.purge.pollIntervalMs', 'cache.purge.softStaleSeconds', 'cache.purge.recordTtlSeconds',
  'cache.memory.maxBytes', 'cache.memory.maxTtlSeconds', 'cache.maxObjectBytes', 'cache.graceSeconds',
  'cache.staleIfErrorSeconds', 'cache.keepStaleSeconds', 'cache.hitForPassSeconds',
  'cache.memcached.timeoutMs', 'cache.memcached.retryDownMs', 'cache.memcached.maxItemBytes', 'cache.memcached.leaseTtlMs',
  'cache.compress.minBytes', 'cache.compress.maxBytes',
  'routes[0].whenShed.retryAfter'
]

/** A minimal config with `raw` (JSON text, so 1e400 stays 1e400) at `keyPath`. */
function configWith (keyPath: string, raw: string): string {
  const config: Record<string, unknown> = { origin: { url: 'http://127.0.0.1:1' }, routes: [{ match: '/' }] }
  let at: Record<string, unknown> = config
  const parts = keyPath.replace('[0]', '.0').split('.')
  for (const part of parts.slice(0, -1)) {
    const next = Array.isArray(at) ? (at as unknown[])[Number(part)] : at[part]
    at = (next ?? (at[part] = {})) as Record<string, unknown>
  }
  at[parts.at(-1) as string] = '@VALUE@'
  return JSON.stringify(config).replace('"@VALUE@"', raw)
}

function refusal (text: string): ConfigError {
  try {
    parseConfig(text)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error(`accepted: ${text}`)
}

describe('every duration and size has a finite maximum', () => {
  it.each(LIMITED)('%s: 1e400 (Infinity), -1e400 and 99999999999 (sizes: 99999999999999) are refused naming the key', (keyPath) => {
    // 93 GiB is under the 1 TiB ceiling of cache.memory.maxBytes: sizes are tried with a hundred TB instead.
    for (const raw of ['1e400', '-1e400', keyPath.endsWith('Bytes') ? '99999999999999' : '99999999999']) {
      expect(refusal(configWith(keyPath, raw)).keyPath).toBe(keyPath)
    }
  })

  it('the schema gives each of them a maximum that fits setTimeout (ms), memcached\'s expiry (seconds) or a buffer (bytes)', () => {
    const found: string[] = []
    const walk = (node: Record<string, unknown>, path: string): void => {
      const properties = node['properties'] as Record<string, Record<string, unknown>> | undefined
      for (const [name, child] of Object.entries(properties ?? {})) {
        const keyPath = path === '' ? name : `${path}.${name}`
        if (/(Ms|Seconds|Bytes)$/.test(name) || name === 'retryAfter') {
          found.push(keyPath)
          const max = child['maximum'] as number
          expect(Number.isFinite(max), keyPath).toBe(true)
          if (name.endsWith('Ms')) expect(max, keyPath).toBeLessThanOrEqual(2 ** 31 - 1)
          else if (name.endsWith('Bytes')) expect(max, keyPath).toBeLessThanOrEqual(2 ** 40)
          else expect(max, keyPath).toBeLessThanOrEqual(30 * 24 * 3600)
        }
        walk(child, keyPath)
      }
      const items = node['items'] as Record<string, unknown> | undefined
      if (items !== undefined) walk(items, `${path}[0]`)
    }
    walk(schema as unknown as Record<string, unknown>, '')
    expect(found.sort()).toEqual([...LIMITED].sort())
  })

  it('Infinity is refused for counts too (connections, queueSize, flags)', () => {
    expect(refusal('{ "origin": { "url": "http://127.0.0.1:1", "connections": 1e400 } }').keyPath).toBe('origin.connections')
    expect(refusal('{ "origin": { "url": "http://127.0.0.1:1" }, "flags": { "shedPercent": 1e400 } }').keyPath).toMatch(/^flags\.shedPercent/)
  })
})

describe('a live reload with an absurd number', () => {
  it('is refused naming the key; the proxy keeps answering with the last good config', async () => {
    const o = await startOrigin(answer(200, { 'cache-control': 'no-store' }, 'ok', 20))
    cleanups.push(() => o.close())
    const p: FileProxy = await startProxyFromFile(o.url)
    cleanups.push(() => p.close())
    const version = p.proxy.loaded.version
    for (const raw of ['1e400', '99999999999']) {
      const text = JSON.stringify(p.file.config).replace('"timeoutMs":5000', `"timeoutMs":${raw}`)
      expect(text).toContain(raw)
      const before = p.logs.length
      p.file.writeText(text)
      await expect.poll(() => p.logs.slice(before).find((l) => l.msg === 'config edit rejected; the last good config stays in force'), { timeout: 5000 })
        .toMatchObject({ key: 'origin.timeoutMs' })
      expect(p.proxy.loaded.version).toBe(version)
      const res = await get(`${p.url}/x`, { host: 'site.test' })
      expect(res.status).toBe(200)
      expect(res.body).toBe('ok')
    }
  })
})

describe('corral check', () => {
  it('exits non-zero naming cache.memcached.leaseTtlMs: 99999999999 and origin.timeoutMs: 1e400', async () => {
    const run = promisify(execFile)
    const dir = mkdtempSync(join(tmpdir(), 'corral-check-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'proxy.config.json')
    const cli = join(import.meta.dirname, '../../src/cli.ts')
    const outcomes: string[] = []
    for (const [text, key] of [
      ['{ "origin": { "url": "http://127.0.0.1:3000" }, "cache": { "memcached": { "leaseTtlMs": 99999999999 } } }', 'cache.memcached.leaseTtlMs'],
      ['{ "origin": { "url": "http://127.0.0.1:3000", "timeoutMs": 1e400 } }', 'origin.timeoutMs']
    ] as const) {
      writeFileSync(file, text)
      const failed = await run(process.execPath, ['--import', 'tsx', cli, 'check', '--config', file]).then(() => null, (err: unknown) => err as { code: number, stderr: string })
      expect(failed?.code).toBe(1)
      expect(failed?.stderr).toContain(`${key}: must be`)
      outcomes.push(key)
    }
    expect(outcomes).toHaveLength(2)
  }, 30_000)
})
