/** A corral proxy on port 0 in front of a test origin, with a settable clock and captured log lines. */
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import pino from 'pino'
import { request, Agent } from 'undici'
import { expect } from 'vitest'
import type { TestOrigin } from './origin.js'
import { parseConfig } from '../../src/config/load.js'
import { createProxy, type Proxy, type ProxyOptions } from '../../src/proxy.js'

export class TestClock {
  constructor (public t = Date.parse('2026-01-01T00:00:00Z')) {}
  now (): number { return this.t }
  advance (ms: number): void { this.t += ms }
}

export interface TestProxy {
  readonly proxy: Proxy
  readonly url: string
  readonly adminUrl: string
  readonly logs: Array<Record<string, unknown>>
  close (): Promise<void>
}

/** Deep-merge `overrides` into a minimal config pointing at `originUrl`. */
export async function startProxy (originUrl: string, overrides: Record<string, unknown> = {}, options: ProxyOptions = {}): Promise<TestProxy> {
  const base: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    origin: { url: originUrl, timeoutMs: 5000 },
    log: { level: 'info', access: true }
  }
  const config = merge(base, overrides)
  const loaded = parseConfig(JSON.stringify(config))
  const logs: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    }
  })
  const logger = options.logger ?? pino({ level: loaded.config.log.level }, sink)
  const proxy = createProxy(loaded, { ...options, logger })
  const { port, adminPort } = await proxy.listen()
  return {
    proxy,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    logs,
    close: () => proxy.close(100)
  }
}

/** A deep merge of config objects (arrays and scalars in `b` replace). */
export function merge (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a }
  for (const [k, v] of Object.entries(b)) {
    const prior = out[k]
    out[k] = isObject(prior) && isObject(v) ? merge(prior, v) : v
  }
  return out
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A client that can open hundreds of sockets at once (the stampede tests need real concurrency). */
export const manyConnections = new Agent({ connections: 1000, pipelining: 0, keepAliveTimeout: 1000 })

export interface Got {
  status: number
  headers: Record<string, string>
  body: string
}

export async function get (url: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Got> {
  const res = await request(url, { method: method as 'GET', headers, dispatcher: manyConnections, body: body ?? null })
  const text = await res.body.text()
  const flat: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers)) flat[k] = Array.isArray(v) ? v.join(', ') : (v ?? '')
  return { status: res.statusCode, headers: flat, body: text }
}

/**
 * One raw HTTP/1.1 exchange over a socket, for request lines and headers a client library will not send
 * (absolute-form targets, Connection-listed fields, a Host that is not a host). `head` is the request line and
 * headers without the final blank line; `Connection: close` is added unless the head sets Connection itself.
 */
export async function rawRequest (url: string, head: string): Promise<string> {
  const { port } = new URL(url)
  const withClose = /\r\nconnection:/i.test(head) ? head : `${head}\r\nConnection: close`
  return await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(`${withClose}\r\n\r\n`))
    let data = ''
    socket.on('data', (d: Buffer) => { data += d.toString() })
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
}

/** How many requests have waited on another request's fetch so far (corral_coalesced_waiters_total). */
export async function coalescedWaiters (proxy: TestProxy): Promise<number> {
  const metric = await proxy.proxy.metrics.coalescedWaiters.get()
  return metric.values[0]?.value ?? 0
}

/**
 * The gate pattern of the coalescing tests: hold the origin, send `n` requests for `url`, and release the origin
 * only once one request is at the origin and the other n - 1 wait on its fetch. Resolves with every answer.
 */
export async function burstBehindOneFetch (origin: TestOrigin, proxy: TestProxy, url: string, n: number): Promise<Got[]> {
  const waitersBefore = await coalescedWaiters(proxy)
  const arrivedBefore = origin.count
  origin.hold()
  const burst = Array.from({ length: n }, async () => await get(url))
  await origin.arrived(arrivedBefore + 1)
  await expect.poll(async () => await coalescedWaiters(proxy), { timeout: 10_000 }).toBe(waitersBefore + n - 1)
  origin.release()
  return await Promise.all(burst)
}
