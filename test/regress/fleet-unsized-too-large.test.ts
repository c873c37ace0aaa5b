/**
 * Issue 22, point 4 across a fleet: an answer without a Content-Length that grows past cache.maxObjectBytes is relayed
 * to the clients already reading it (origin/growing-body.ts), and the followers on other proxies keep streaming it
 * too: the filling proxy publishes its chunks past the buffer as before it (coalesce/fleet-publish.ts), and each
 * follower relays them to its own clients, never keeping the body. Before, the publisher stopped there and marked the
 * fill failed, so every follower's client was reset mid-body (an error, never a body that looked whole, but an error).
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, inject, it } from 'vitest'
import { startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { metricSum } from '../helpers/proxy-process.js'
import { closeAfterEach } from '../helpers/opened.js'
import { streamingClient, type StreamingClient } from '../helpers/streaming-client.js'
import { bytesOf } from '../helpers/byte-origin.js'

const memcached = inject('memcached')
const { opened } = closeAfterEach()
const HOST = 'media.test'
/** cache.maxObjectBytes on both proxies; the body is four times that. */
const MAX_OBJECT = 256 * 1024
const SIZE = 4 * MAX_OBJECT
const FIRST = 128 * 1024

interface Gate { open: () => void, opened: Promise<void> }
function gate (): Gate {
  let open = (): void => {}
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { open, opened }
}

/** FIRST bytes without a Content-Length, then, once `rest` opens, the rest in 64 KiB pieces, then the end. */
function unsizedBody (rest: Gate): OriginHandler {
  const whole = bytesOf(0, SIZE)
  return async (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'application/octet-stream' })
    res.write(whole.subarray(0, FIRST))
    await rest.opened
    for (let at = FIRST; at < SIZE; at += 64 * 1024) {
      if (!res.write(whole.subarray(at, Math.min(at + 64 * 1024, SIZE)))) await new Promise(resolve => res.once('drain', resolve))
    }
    res.end()
  }
}

async function fleetProxy (origin: TestOrigin, prefix: string): Promise<TestProxy> {
  return opened(await startProxy(origin.url, {
    origin: { url: origin.url, timeoutMs: 5000, retries: 0 },
    cache: {
      maxObjectBytes: MAX_OBJECT,
      memory: { maxTtlSeconds: 1 },
      memcached: { servers: [memcached as string], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 5000 }
    }
  }))
}

async function client (proxy: TestProxy, path: string): Promise<StreamingClient> {
  return await streamingClient(`${proxy.url}${path}`, { host: HOST })
}

async function metrics (proxy: TestProxy): Promise<string> {
  return await (await fetch(`${proxy.adminUrl}/metrics`)).text()
}

describe.skipIf(memcached === null)('issue 22: an unsized answer past maxObjectBytes, followed from another proxy', () => {
  it('the follower\'s client gets every byte and a terminated body, from the one origin fetch; nothing is stored', async () => {
    const rest = gate()
    const origin = opened(await startOrigin(unsizedBody(rest)))
    const p = `fu${randomBytes(3).toString('hex')}:`
    const a = await fleetProxy(origin, p)
    const b = await fleetProxy(origin, p)
    const leader = await client(a, '/live.bin')
    await leader.received(FIRST)
    const follower = await client(b, '/live.bin')
    expect(follower.headers['cache-status']).toBe('corral; hit; detail=fleet-streamed')
    expect(follower.headers['transfer-encoding']).toBe('chunked')
    expect(await follower.received(64 * 1024)).toBeGreaterThanOrEqual(64 * 1024)
    rest.open()
    const expected = bytesOf(0, SIZE)
    const [led, followed] = [await leader.done, await follower.done]
    expect('body' in led && led.body.equals(expected)).toBe(true)
    if (!('body' in followed)) throw followed.error
    expect(followed.body.length).toBe(SIZE)
    expect(followed.body.equals(expected)).toBe(true)
    expect(origin.count).toBe(1)
    // Relayed, never kept: not on the follower's proxy either.
    await expect.poll(async () => metricSum(await metrics(b), 'corral_fleet_streams_total', 'op="followed"')).toBe(1)
    expect(metricSum(await metrics(b), 'corral_fleet_stream_bytes_total', 'op="followed"')).toBe(SIZE)
    expect(metricSum(await metrics(b), 'corral_chunked_entries_total', 'op="stored"')).toBe(0)
    expect(metricSum(await metrics(a), 'corral_chunked_entries_total', 'op="stored"')).toBe(0)
  })
})
