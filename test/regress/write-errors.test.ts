/**
 * A response record node:http refuses to write costs its own request a 500 and a log line, never the process.
 * (Found in the code review of 2026-11-25.)
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, answer } from '../helpers/origin.js'
import { startProxy, get } from '../helpers/proxy.js'
import { MemoryStore } from '../../src/store/memory.js'
import { makeEntry } from '../store/records.js'

const { opened } = closeAfterEach()

const reflect = answer(200, { 'cache-control': 'max-age=60' }, (n) => `page-${n}`)

describe('a record node:http refuses to write', () => {
  it('costs its own request a 500 and a log line; the process keeps serving every other page', async () => {
    const o = opened(await startOrigin(reflect))
    const store = new MemoryStore({ maxBytes: 1 << 20 })
    const p = opened(await startProxy(o.url, { cache: { key: { includeHost: false } } }, { store }))
    // What a damaged record would look like once in L1 (the codec now refuses such items from memcached): a header
    // value with a control character, which writeHead throws on, synchronously, inside the request listener.
    const now = Date.now()
    store.set('/bad', makeEntry('/bad', {
      headers: ['x-note', 'a\u0001b', 'content-length', '2'],
      body: Buffer.from('ok'),
      storedAt: now,
      initialAgeSeconds: 0,
      freshUntil: now + 60_000,
      staleWhileRevalidateUntil: now + 60_000,
      staleIfErrorUntil: now + 60_000,
      etag: undefined
    }), 60_000)
    for (let i = 0; i < 2; i++) {
      const bad = await get(`${p.url}/bad`)
      expect(bad.status).toBe(500)
      expect(bad.body).toBe('internal error\n')
    }
    expect(p.logs.filter((l) => l['msg'] === 'internal error')).toHaveLength(2)
    expect((await get(`${p.url}/good`)).status).toBe(200)
    expect((await get(`${p.url}/good`)).headers['x-cache']).toBe('HIT')
  })
})
