/**
 * The step table driven without a socket: node:http's request and response stubbed, a fake origin the test answers, a
 * fake clock, the memory store. Each case walks one road of pipeline.ts and checks the answer row it ends in.
 */
import { EventEmitter } from 'node:events'
import { Readable } from 'node:stream'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { Pipeline } from '../src/pipeline.js'
import { makeSettings } from '../src/proxy-build.js'
import { parseConfig } from '../src/config/load.js'
import { MemoryStore } from '../src/store/memory.js'
import { HitForPass } from '../src/coalesce/hit-for-pass.js'
import { Metrics } from '../src/core/metrics.js'
import { makeLogger } from '../src/core/log.js'
import { ANSWERS } from '../src/answer.js'
import type { OriginClient, OriginRequest, OriginResponse } from '../src/origin/types.js'

const T0 = 1_700_000_000_000

/** An origin that answers from a script, in order, and counts what it was asked. */
class ScriptedOrigin implements OriginClient {
  readonly timeoutMs = 5000
  readonly requests: OriginRequest[] = []
  constructor (readonly script: Array<{ status: number, headers: Record<string, string>, body: string }>) {}

  async request (req: OriginRequest): Promise<OriginResponse> {
    this.requests.push(req)
    const next = this.script.shift()
    if (next === undefined) throw new Error('the script has no answer left')
    const headers = { 'content-length': String(Buffer.byteLength(next.body)), ...next.headers }
    return { status: next.status, headers, body: Readable.from([Buffer.from(next.body)]), timeoutMs: this.timeoutMs, latencyMs: 3 }
  }
}

const socket = { writableLength: 0, remoteAddress: '127.0.0.1', destroy () {} }

/** node:http's response, as much of it as the pipeline and pass.ts use. */
class StubResponse extends EventEmitter {
  statusCode = 0
  headers: string[] = []
  readonly chunks: Buffer[] = []
  writableEnded = false
  writableFinished = false
  headersSent = false
  destroyed = false
  readonly socket = socket
  readonly ended: Promise<void>
  #ended!: () => void
  constructor (readonly req: unknown) {
    super()
    this.ended = new Promise((resolve) => { this.#ended = resolve })
  }

  writeHead (status: number, headers: string[]): this {
    this.statusCode = status
    this.headers = headers
    this.headersSent = true
    return this
  }

  write (chunk: Buffer): boolean {
    this.chunks.push(chunk)
    return true
  }

  end (chunk?: Buffer | string): void {
    if (chunk !== undefined) this.chunks.push(Buffer.from(chunk))
    this.writableEnded = this.writableFinished = true
    this.#ended()
    this.emit('finish')
    this.emit('close')
  }

  setTimeout (): this { return this }
  destroy (): void { this.destroyed = true }
  header (name: string): string | undefined {
    const i = this.headers.indexOf(name)
    return i === -1 ? undefined : this.headers[i + 1]
  }

  get body (): string { return Buffer.concat(this.chunks).toString() }
}

function rig (script: ScriptedOrigin['script']): { pipeline: Pipeline, origin: ScriptedOrigin, clock: { t: number }, get: (path: string, headers?: Record<string, string>) => StubResponse } {
  const origin = new ScriptedOrigin(script)
  const clock = { t: T0 }
  const loaded = parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:3000' }, log: { access: false, level: 'silent' }, cache: { staleIfErrorSeconds: 0 } }))
  const cache = { store: new MemoryStore({ maxBytes: 1 << 22 }), fleet: null }
  const settings = makeSettings(loaded, cache)
  const deps = { origin, clock: { now: () => clock.t }, logger: makeLogger('silent'), metrics: new Metrics(), load: { originSaturated: false }, hitForPass: new HitForPass(settings.hitForPassMs) }
  const pipeline = new Pipeline(deps, cache, settings)
  const get = (path: string, headers: Record<string, string> = {}): StubResponse => {
    const req = { url: path, method: 'GET', headers: { host: 'example.com', ...headers }, socket }
    const res = new StubResponse(req)
    pipeline.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse)
    return res
  }
  return { pipeline, origin, clock, get }
}

describe('pipeline: the step table without sockets', () => {
  it('a miss is fetched and stored; the next request is a hit answered before handle returns', async () => {
    const r = rig([{ status: 200, headers: { 'cache-control': 'max-age=60' }, body: 'page' }])
    const miss = r.get('/a')
    await miss.ended
    expect([miss.statusCode, miss.header('x-cache'), miss.header('cache-status'), miss.body]).toEqual([200, 'MISS', ANSWERS.stored.cacheStatus, 'page'])
    const hit = r.get('/a')
    expect(hit.writableEnded).toBe(true)
    expect([hit.header('x-cache'), hit.header('cache-status'), hit.body]).toEqual(['HIT', 'corral; hit; ttl=60', 'page'])
    expect(r.origin.requests).toHaveLength(1)
  })

  it('a stale entry answers at once while one background refresh replaces it', async () => {
    const r = rig([
      { status: 200, headers: { 'cache-control': 'max-age=10, stale-while-revalidate=60' }, body: 'old' },
      { status: 200, headers: { 'cache-control': 'max-age=10' }, body: 'new' }
    ])
    await r.get('/s').ended
    r.clock.t += 20_000
    const stale = r.get('/s')
    expect([stale.header('x-cache'), stale.header('cache-status'), stale.body]).toEqual(['STALE', 'corral; hit; ttl=-10; detail=stale-while-revalidate', 'old'])
    await expect.poll(() => r.get('/s').body).toBe('new')
    expect(r.origin.requests).toHaveLength(2)
  })

  it('an uncacheable answer is relayed, and the URL is hit-for-pass for the next request', async () => {
    const r = rig([
      { status: 200, headers: { 'cache-control': 'no-store' }, body: 'one' },
      { status: 200, headers: { 'cache-control': 'no-store' }, body: 'two' }
    ])
    const first = r.get('/u')
    await first.ended
    expect([first.header('x-cache'), first.header('cache-status'), first.body]).toEqual(['MISS', 'corral; fwd=uri-miss; detail=no-store', 'one'])
    const second = r.get('/u')
    await second.ended
    expect([second.header('x-cache'), second.header('cache-status'), second.body]).toEqual(['PASS', ANSWERS['hit-for-pass'].cacheStatus, 'two'])
  })

  it('an expired entry is revalidated by a 304, and only-if-cached with nothing stored gets 504 without the origin', async () => {
    const r = rig([
      { status: 200, headers: { 'cache-control': 'max-age=10', etag: '"v1"' }, body: 'body' },
      { status: 304, headers: { 'cache-control': 'max-age=10', etag: '"v1"' }, body: '' }
    ])
    await r.get('/r').ended
    r.clock.t += 20_000
    const again = r.get('/r')
    await again.ended
    expect([again.header('x-cache'), again.header('cache-status'), again.body]).toEqual(['REVALIDATED', ANSWERS.revalidated.cacheStatus, 'body'])
    expect(r.origin.requests[1]?.headers['if-none-match']).toBe('"v1"')
    const none = r.get('/none', { 'cache-control': 'only-if-cached' })
    expect([none.statusCode, none.header('cache-status')]).toEqual([504, ANSWERS['only-if-cached'].cacheStatus])
    expect(r.origin.requests).toHaveLength(2)
  })

  it('an origin error with no stand-in is the error row; the error is not stored', async () => {
    const r = rig([
      { status: 503, headers: { 'cache-control': 'no-store' }, body: 'down' },
      { status: 200, headers: { 'cache-control': 'max-age=60' }, body: 'up' }
    ])
    const failed = r.get('/e')
    await failed.ended
    expect([failed.statusCode, failed.header('x-cache'), failed.header('cache-status')]).toEqual([503, 'MISS', 'corral; fwd=uri-miss; detail=error-status'])
    const next = r.get('/e')
    await next.ended
    expect([next.header('x-cache'), next.body]).toEqual(['MISS', 'up'])
  })
})
