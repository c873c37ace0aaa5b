/**
 * Review findings on hot reload with `workers: 2` (the real CLI as a process group): a worker started after the file
 * was broken starts from the last good config instead of exiting 1 forever (crash loop), and the cluster primary keeps
 * the admin token while its listener is bound off loopback. No memcached needed: each worker has its own L1.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { freePort } from '../helpers/memcached.js'
import { cliChildren, probe, tempConfigFile, until, type ConfigFile, type Json } from '../helpers/config-file.js'
import type { Got } from '../helpers/proxy.js'
import { NO_MEMORY_REDUCER, RESPAWNED_ENV } from '../../src/ops/runtime.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TOKEN = 'a-long-admin-token-0123456789'
const HOST = 'site.test'

interface FlagsBody { version: string, rejected: null | { message: string, keyPath: string }, flags: Record<string, { value: unknown }> }

describe('workers: 2, hot reload', () => {
  let origin: TestOrigin
  let file: ConfigFile
  let primaryPid: number
  let output = ''
  let gone = false
  let exited: Promise<void>
  let url: string
  let adminUrl: string
  let goodVersion: string

  /** The primary's workers. */
  function workers (): number[] {
    return cliChildren(primaryPid)
  }

  /** A GET on a connection of its own, so the primary hands successive requests to the workers in turn. */
  async function fresh (path: string): Promise<Got> {
    const res = await request(`${url}${path}`, { headers: { host: HOST }, reset: true })
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(res.headers)) headers[k] = String(v)
    return { status: res.statusCode, headers, body: await res.body.text() }
  }

  async function admin (path: string, method = 'GET', token?: string): Promise<{ status: number, body: string }> {
    const res = await fetch(`${adminUrl}${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) })
    return { status: res.status, body: await res.text() }
  }

  async function flags (): Promise<FlagsBody> {
    return JSON.parse((await admin('/flags', 'GET', TOKEN)).body) as FlagsBody
  }

  /** The primary's aggregated /metrics answers only once every worker answers its scrape: all are in service. */
  async function allWorkersAnswer (): Promise<boolean> {
    try {
      return (await admin('/metrics', 'GET', TOKEN)).status === 200
    } catch {
      return false
    }
  }

  /** Lines the group logged (pino JSON, one per line) with this `msg`. */
  function logged (msg: string): Json[] {
    return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Json).filter((l) => l['msg'] === msg)
  }

  beforeAll(async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=300' }, (n) => `page ${n}`))
    const port = await freePort()
    const adminPort = await freePort()
    file = tempConfigFile({
      workers: 2,
      listen: { host: '127.0.0.1', port },
      // Off loopback (0.0.0.0 answers on 127.0.0.1 too), so a token is required.
      admin: { host: '0.0.0.0', port: adminPort, token: TOKEN },
      origin: { url: origin.url, timeoutMs: 5000 },
      log: { level: 'info', access: false },
      flags: { beta: false },
      routes: [{ match: '/beta/', flag: 'beta' }]
    })
    url = `http://127.0.0.1:${port}`
    adminUrl = `http://127.0.0.1:${adminPort}`
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', file.path], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      // As a respawned process (ops/respawn.ts): this primary keeps running without the flag instead of starting
      // itself again with it, so the test still shows that workers get the flag whatever their primary has.
      env: { ...process.env, [RESPAWNED_ENV]: '1' }
    })
    primaryPid = child.pid as number
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    exited = new Promise((resolve) => child.once('exit', () => { gone = true; resolve() }))
    const ready = await until(async () => gone || (workers().length === 2 && await probe(`${url}/__corral/health`) === 200 && await allWorkersAnswer()), 20_000)
    if (!ready || gone) {
      throw new Error(`the cluster did not start (workers: ${workers().join(', ') || 'none'}, health: ${await probe(`${url}/__corral/health`)}, admin /metrics: ${await probe(`${adminUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })}):\n${output}`)
    }
  }, 30_000)

  afterAll(async () => {
    if (primaryPid !== undefined && !gone) {
      for (const pid of workers()) {
        try { process.kill(pid, 'SIGKILL') } catch {}
      }
      process.kill(primaryPid, 'SIGKILL')
      await exited
    }
    file?.remove()
    await origin?.close()
  })

  it('workers run without V8\'s memory reducer though the primary was started without the flag, and no worker warns about it', () => {
    const pids = workers()
    expect(pids.length).toBe(2)
    for (const pid of pids) {
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(NO_MEMORY_REDUCER)
    }
    expect(readFileSync(`/proc/${primaryPid}/cmdline`, 'utf8').split('\0')).not.toContain(NO_MEMORY_REDUCER)
    expect(logged('V8\'s memory reducer is on: after its first idle spell the process answers hits ~20% slower for good (docs/benchmarks.md)')).toEqual([])
  })

  it('a good edit reaches every worker', async () => {
    const before = (await flags()).version
    file.edit({ flags: { beta: true } })
    await expect.poll(async () => (await flags()).version, { timeout: 5000, interval: 20 }).not.toBe(before)
    goodVersion = (await flags()).version
    // Both workers (one reload each) have it: a beta page is served on whichever worker answers.
    await expect.poll(() => logged('config applied').filter((l) => l['pid'] !== primaryPid).length, { timeout: 5000, interval: 20 }).toBe(2)
    for (let i = 0; i < 4; i++) expect((await fresh(`/beta/${i}`)).status).toBe(200)
  })

  it('with broken JSON on disk, a killed worker is replaced by one that serves the last good config (no crash loop)', async () => {
    file.writeText('{ "workers": 2, "origin": ')
    await expect.poll(async () => (await flags()).rejected, { timeout: 5000, interval: 20 }).not.toBeNull()
    expect((await flags()).version).toBe(goodVersion)

    const [victim, survivor] = workers() as [number, number]
    process.kill(victim, 'SIGKILL')
    await expect.poll(() => workers().includes(victim), { timeout: 5000, interval: 20 }).toBe(false)
    await expect.poll(() => workers().length, { timeout: 10_000, interval: 50 }).toBe(2)
    const replacement = workers().find((pid) => pid !== survivor) as number
    expect(replacement).not.toBe(victim)
    // The replacement is in service: it listens, answers the primary's scrape, and requests keep succeeding.
    await expect.poll(() => logged('listening').some((l) => l['pid'] === replacement), { timeout: 15_000, interval: 50 }).toBe(true)
    await expect.poll(allWorkersAnswer, { timeout: 15_000, interval: 100 }).toBe(true)
    // It started from the last good config (beta on), not from the group's first one nor the broken file.
    for (let i = 0; i < 4; i++) {
      const res = await fresh(`/beta/after-${i}`)
      expect([res.status, res.headers['x-cache']]).toEqual([200, 'MISS'])
    }
    expect(logged('config applied').filter((l) => l['pid'] === replacement)).toMatchObject([{ version: goodVersion }])
    // Still alive after serving, and the only worker that died is the one killed.
    expect(() => process.kill(replacement, 0)).not.toThrow()
    expect(logged('worker died; starting a replacement')).toHaveLength(1)
    // What a worker reading the broken file would have printed before exiting 1 (cli.ts loadOrReport).
    expect(output).not.toContain(`${file.path}: invalid JSON`)
    expect((await flags()).version).toBe(goodVersion)
    expect((await flags()).rejected).not.toBeNull()
  })

  it('the primary rejects an edit that moves admin.host to loopback without a token, and so do the workers', async () => {
    const rejectedBefore = logged('config edit rejected; the last good config stays in force').length
    const { admin: _admin, ...rest } = file.config
    // The edit also switches cacheOnly on: that must not happen on any worker either.
    file.write({ ...rest, admin: { host: '127.0.0.1', port: (_admin as Json)['port'] }, flags: { beta: true, cacheOnly: true } })
    // The primary and both workers refuse it, naming admin.token.
    await expect.poll(() => logged('config edit rejected; the last good config stays in force').length - rejectedBefore, { timeout: 5000, interval: 20 }).toBe(3)
    const refusals = logged('config edit rejected; the last good config stays in force').slice(rejectedBefore)
    for (const line of refusals) expect(line).toMatchObject({ key: 'admin.token', reason: expect.stringMatching(/admin\.token: is required while the admin listener is bound to 0\.0\.0\.0/) })

    const report = await flags()
    expect(report.version).toBe(goodVersion)
    expect(report.rejected?.message).toMatch(/admin\.token/)
    expect(report.flags['cacheOnly']?.value).toBe(false)
    // The admin listener, still on 0.0.0.0, still wants the token.
    expect((await admin('/flags')).status).toBe(401)
    expect((await admin(`/purge?url=${encodeURIComponent(`http://${HOST}/beta/0`)}`, 'POST')).status).toBe(401)
    for (let i = 0; i < 4; i++) expect((await fresh(`/not-shed-${i}`)).headers['x-cache']).toBe('MISS')
  })
})
