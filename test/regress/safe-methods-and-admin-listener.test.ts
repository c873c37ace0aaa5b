/**
 * A safe method (OPTIONS, a CORS preflight) does not evict the page, and an admin listener off loopback needs a
 * token. (Found in the code review of 2026-11-25.)
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, type TestProxy } from '../helpers/proxy.js'
import { parseConfig } from '../../src/config/load.js'

let origin: TestOrigin | undefined
let proxy: TestProxy | undefined

afterEach(async () => {
  await proxy?.close()
  await origin?.close()
  proxy = undefined
  origin = undefined
})

const reflect = answer(200, { 'cache-control': 'max-age=60' }, (n) => `page-${n}`)

describe('safe methods and the admin listener', () => {
  it('OPTIONS (a CORS preflight) does not evict the page', async () => {
    const o = origin = await startOrigin(reflect)
    const p = proxy = await startProxy(o.url)
    await get(`${p.url}/page`)
    expect((await get(`${p.url}/page`, {}, 'OPTIONS')).status).toBe(200)
    expect((await get(`${p.url}/page`)).headers['x-cache']).toBe('HIT')
  })

  it('refuses an admin listener off loopback without a token', () => {
    expect(() => parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:1' }, admin: { host: '0.0.0.0' } })))
      .toThrow(/admin\.token: is required when admin\.host \(0\.0\.0\.0\) is not a loopback address/)
    expect(() => parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:1' }, admin: { host: '0.0.0.0', token: 'a-long-enough-token' } }))).not.toThrow()
  })
})
