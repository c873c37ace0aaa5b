/**
 * A safe method (OPTIONS, a CORS preflight) does not evict the page, and an admin listener off loopback needs a
 * token. (Found in the code review of 2026-11-25.)
 */
import { describe, expect, it } from 'vitest'
import { closeAfterEach } from '../helpers/opened.js'
import { startOrigin, answer } from '../helpers/origin.js'
import { startProxy, get } from '../helpers/proxy.js'
import { parseConfig } from '../../src/config/load.js'

const { opened } = closeAfterEach()

const reflect = answer(200, { 'cache-control': 'max-age=60' }, (n) => `page-${n}`)

describe('safe methods and the admin listener', () => {
  it('OPTIONS (a CORS preflight) does not evict the page', async () => {
    const o = opened(await startOrigin(reflect))
    const p = opened(await startProxy(o.url))
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
