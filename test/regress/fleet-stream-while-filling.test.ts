/**
 * Issue 22, item 3 across a fleet: a request on a proxy that lost the memcached lease streams the other proxy's fill
 * while it arrives, through memcached (coalesce/fleet-publish.ts, fleet-follow.ts), instead of waiting for the whole
 * object to be stored. The origin sends the first half and holds the rest on a gate: the follower has that first half
 * before the gate opens. A fill that fails, or a memcached that restarts mid-fill, cuts the follower's client off
 * (never a short body that looks whole).
 */
import { randomBytes } from 'node:crypto'
import memjs from 'memjs'
import { describe, expect, inject, it } from 'vitest'
import { startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { metricSum } from '../helpers/proxy-process.js'
import { closeAfterEach } from '../helpers/opened.js'
import { streamingClient, type StreamingClient } from '../helpers/streaming-client.js'
import { byteOrigin, bytesOf } from '../helpers/byte-origin.js'
import { startMemcached } from '../helpers/memcached.js'
import { memcachedKey } from '../../src/store/memcached.js'
import { FILLING_SUFFIX } from '../../src/store/filling-record.js'

const memcached = inject('memcached')
const { opened } = closeAfterEach()
const HOST = 'media.test'
const SIZE = 1024 * 1024
const HALF = SIZE / 2

interface Gate { open: () => void, opened: Promise<void> }
function gate (): Gate {
  let open = (): void => {}
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { open, opened }
}

/**
 * Sends HALF bytes, waits for `rest`, then the remainder (or, with `die`, destroys the connection instead); `sized`
 * false: without a Content-Length (chunked transfer).
 */
function heldBody (rest: Gate, die = false, sized = true): OriginHandler {
  const whole = bytesOf(0, SIZE)
  return async (_req, res) => {
    const length: Record<string, string> = sized ? { 'content-length': String(SIZE) } : {}
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'video/mp4', ...length })
    res.write(whole.subarray(0, HALF))
    await rest.opened
    if (die) res.socket?.destroy()
    else res.end(whole.subarray(HALF))
  }
}

async function fleetProxy (origin: TestOrigin, server: string, prefix: string): Promise<TestProxy> {
  return opened(await startProxy(origin.url, {
    origin: { url: origin.url, timeoutMs: 5000, retries: 0 },
    cache: { memory: { maxTtlSeconds: 1 }, memcached: { servers: [server], prefix, timeoutMs: 1000, retryDownMs: 60_000, leaseTtlMs: 5000 } }
  }))
}

async function client (proxy: TestProxy, path: string): Promise<StreamingClient> {
  return await streamingClient(`${proxy.url}${path}`, { host: HOST })
}

async function metrics (proxy: TestProxy): Promise<string> {
  return await (await fetch(`${proxy.adminUrl}/metrics`)).text()
}

function prefix (): string {
  return `fs${randomBytes(3).toString('hex')}:`
}

describe.skipIf(memcached === null)('issue 22: followers on another proxy stream while the fill runs', () => {
  it('the other proxy has the first half while the origin still holds the rest; one origin fetch', async () => {
    const rest = gate()
    const origin = opened(await startOrigin(heldBody(rest)))
    const p = prefix()
    const a = await fleetProxy(origin, memcached as string, p)
    const b = await fleetProxy(origin, memcached as string, p)
    const leader = await client(a, '/clip.mp4')
    await leader.received(1)
    const follower = await client(b, '/clip.mp4')
    expect(follower.status).toBe(200)
    expect(follower.headers['content-length']).toBe(String(SIZE))
    expect(follower.headers['cache-status']).toBe('corral; hit; detail=fleet-streamed')
    expect(follower.headers['x-cache']).toBe('HIT')
    // The origin has sent only its first half: these bytes came from the fill on the other proxy, through memcached.
    expect(await follower.received(HALF)).toBeGreaterThanOrEqual(HALF)
    // One arriving now on the follower's proxy joins the same follow.
    const late = await client(b, '/clip.mp4')
    expect(await late.received(HALF)).toBeGreaterThanOrEqual(HALF)
    expect(origin.count).toBe(1)
    rest.open()
    const expected = bytesOf(0, SIZE)
    for (const c of [leader, follower, late]) {
      const got = await c.done
      expect('body' in got && got.body.equals(expected)).toBe(true)
    }
    expect(origin.count).toBe(1)
    const lines = b.logs.filter(l => l['msg'] === 'access' && l['body'] === 'fleet-streamed')
    expect(lines).toHaveLength(2)
    expect(lines.every(l => l['coalesced'] === true)).toBe(true)
    await expect.poll(async () => metricSum(await metrics(b), 'corral_fleet_streams_total', 'op="followed"')).toBe(1)
    expect(metricSum(await metrics(b), 'corral_leases_total', 'result="streamed"')).toBe(1)
    expect(metricSum(await metrics(b), 'corral_fleet_stream_bytes_total', 'op="followed"')).toBe(SIZE)
    await expect.poll(async () => metricSum(await metrics(a), 'corral_fleet_streams_total', 'op="published"')).toBe(1)
  })

  it('a body without a Content-Length streams to the other proxy too, chunked, and ends once its length is published', async () => {
    const rest = gate()
    const origin = opened(await startOrigin(heldBody(rest, false, false)))
    const p = prefix()
    const a = await fleetProxy(origin, memcached as string, p)
    const b = await fleetProxy(origin, memcached as string, p)
    const leader = await client(a, '/feed.bin')
    await leader.received(1)
    const follower = await client(b, '/feed.bin')
    expect(follower.headers['cache-status']).toBe('corral; hit; detail=fleet-streamed')
    expect(follower.headers['content-length']).toBeUndefined()
    expect(follower.headers['transfer-encoding']).toBe('chunked')
    expect(await follower.received(HALF)).toBeGreaterThanOrEqual(HALF)
    rest.open()
    const expected = bytesOf(0, SIZE)
    for (const c of [leader, follower]) {
      const got = await c.done
      expect('body' in got && got.body.equals(expected)).toBe(true)
    }
    expect(origin.count).toBe(1)
    await expect.poll(async () => metricSum(await metrics(b), 'corral_fleet_stream_bytes_total', 'op="followed"')).toBe(SIZE)
  })

  it('a fill that fails mid-body cuts the follower off, and stores nothing', async () => {
    const rest = gate()
    const origin = opened(await startOrigin(heldBody(rest, true)))
    const p = prefix()
    const a = await fleetProxy(origin, memcached as string, p)
    const b = await fleetProxy(origin, memcached as string, p)
    const leader = await client(a, '/broken.mp4')
    await leader.received(1)
    const follower = await client(b, '/broken.mp4')
    expect(await follower.received(HALF)).toBeGreaterThanOrEqual(HALF)
    rest.open()
    // A reset before the declared length, on both proxies: never a body that ends as if whole.
    expect('error' in await leader.done).toBe(true)
    expect('error' in await follower.done).toBe(true)
    await expect.poll(async () => metricSum(await metrics(b), 'corral_fleet_streams_total', 'op="follow-failed"')).toBe(1)
    expect(b.logs.filter(l => l['code'] === 'CORRAL_ERR_FLEET_STREAM').length).toBeGreaterThanOrEqual(1)
    expect(metricSum(await metrics(a), 'corral_fleet_streams_total', 'op="publish-failed"')).toBe(1)
    origin.setHandler(heldBody({ open () {}, opened: Promise.resolve() }))
    const again = await client(b, '/broken.mp4')
    expect(again.headers['x-cache']).toBe('MISS')
    const got = await again.done
    expect('body' in got && got.body.equals(bytesOf(0, SIZE))).toBe(true)
    expect(origin.count).toBe(2)
  })

  it('a memcached restarted mid-fill cuts the follower off; the leader\'s own client still gets the whole body', async () => {
    const node = await startMemcached()
    try {
      const rest = gate()
      const origin = opened(await startOrigin(heldBody(rest)))
      const p = prefix()
      const a = await fleetProxy(origin, node.address, p)
      const b = await fleetProxy(origin, node.address, p)
      const leader = await client(a, '/restart.mp4')
      await leader.received(1)
      const follower = await client(b, '/restart.mp4')
      expect(await follower.received(HALF)).toBeGreaterThanOrEqual(HALF)
      await node.stop()
      const again = await startMemcached({ port: node.port })
      try {
        rest.open()
        const got = await follower.done
        expect('error' in got).toBe(true)
        await expect.poll(() => b.logs.filter(l => l['code'] === 'CORRAL_ERR_FLEET_STREAM').length).toBeGreaterThanOrEqual(1)
        const whole = await leader.done
        expect('body' in whole && whole.body.equals(bytesOf(0, SIZE))).toBe(true)
        expect(origin.count).toBe(1)
      } finally {
        await again.stop()
      }
    } finally {
      await node.stop()
    }
  })

  it('a small answer is not published: no filling record beside it in memcached', async () => {
    const origin = opened(await startOrigin(byteOrigin(32 * 1024, { headers: { 'cache-control': 'max-age=600' } })))
    const p = prefix()
    const a = await fleetProxy(origin, memcached as string, p)
    const res = await client(a, '/small.bin')
    expect('body' in await res.done).toBe(true)
    const big = opened(await startOrigin(byteOrigin(SIZE, { headers: { 'cache-control': 'max-age=600' } })))
    const c = await fleetProxy(big, memcached as string, p)
    expect('body' in await (await client(c, '/big.bin')).done).toBe(true)
    const raw = memjs.Client.create(memcached as string, { retries: 0, logger: { log () {} } })
    try {
      expect((await raw.get(memcachedKey(p, `${HOST}/small.bin`) + FILLING_SUFFIX)).value).toBeNull()
      // The probe reads what a large fill does leave: the same lookup would have found a record.
      await expect.poll(async () => (await raw.get(memcachedKey(p, `${HOST}/big.bin`) + FILLING_SUFFIX)).value).not.toBeNull()
    } finally {
      raw.close()
    }
  })
})
