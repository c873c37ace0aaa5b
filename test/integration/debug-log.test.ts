/** Issue 16 item 6: `log.level: debug` says what reloads decided and how each fleet lease went. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { answer, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { get, startProxy, type TestProxy } from '../helpers/proxy.js'

const memcached = inject('memcached')

describe.skipIf(memcached === null)('log.level debug', () => {
  let origin: TestOrigin
  let proxy: TestProxy
  beforeAll(async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'ok'))
    const prefix = `dbg${Math.random().toString(36).slice(2, 8)}:`
    proxy = await startProxy(origin.url, { log: { level: 'debug' }, cache: { memcached: { servers: [memcached as string], prefix, timeoutMs: 1000 } } })
  })
  afterAll(async () => {
    await proxy.close()
    await origin.close()
  })

  it('logs each fleet lease outcome with its key', async () => {
    await get(`${proxy.url}/leased`)
    await expect.poll(() => proxy.logs.find((l) => l['msg'] === 'fleet lease')).toMatchObject({ level: 20, result: 'acquired', key: expect.stringContaining('/leased') })
  })

  it('logs what a reload decided', () => {
    const { loaded } = proxy.proxy
    proxy.proxy.apply({ ...loaded, version: 'debug0000001', config: { ...loaded.config, origin: { ...loaded.config.origin, timeoutMs: 4000 } } })
    expect(proxy.logs.find((l) => l['msg'] === 'reload decisions')).toMatchObject({ level: 20, version: 'debug0000001', store: 'kept', fleet: 'replaced' })
  })
})
