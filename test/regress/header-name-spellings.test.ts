/**
 * Issue 23, item 4: header spellings cannot shape a shared page. The fill drop list matched exact names, so
 * `X_Forwarded_Host`, `X-Forwarded_Host`, `X_HTTP_Method_Override` and `X_Host` reached the origin, and PHP, WSGI and
 * Rack read `_` as `-`: one client's value was cached for everyone. Every header list now compares names lower-cased
 * with `_` as `-` (core/header-names.ts); underscore names are dropped from fills by default; the drop list gained
 * the path-, method- and scheme-like fields.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { IncomingMessage } from 'node:http'
import { startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, rawRequest, type TestProxy } from '../helpers/proxy.js'
import { hasName, makeHeaderNameSet, namesIn, normalizeHeaderName } from '../../src/core/header-names.js'

const opened: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close()
})

const HOST = { host: 'site.test' }

/** An app that reads `_` as `-` (PHP's $_SERVER, WSGI environ, Rack env) and reflects every field it got. */
function reflect (req: IncomingMessage): string {
  const seen = Object.keys(req.headers).filter((n) => n.startsWith('x') || n.startsWith('front')).map((n) => `${normalizeHeaderName(n)}=${String(req.headers[n])}`)
  return seen.filter((s) => !s.startsWith('x-request-id=') && !s.startsWith('x-forwarded-for=') && !s.startsWith('x-forwarded-proto=http') && !s.startsWith('x-forwarded-host=site.test')).sort().join(';')
}

const reflecting: OriginHandler = (req, res) => {
  res.writeHead(200, { 'cache-control': 'public, max-age=60' })
  res.end(`page[${reflect(req)}]`)
}

async function setup (overrides: Record<string, unknown> = {}): Promise<{ o: TestOrigin, p: TestProxy }> {
  const o = await startOrigin(reflecting)
  opened.push(o)
  const p = await startProxy(o.url, overrides)
  opened.push(p)
  return { o, p }
}

const SPELLINGS = ['X_Forwarded_Host', 'X-Forwarded_Host', 'X_HTTP_Method_Override', 'X_Host', 'X-Original_URI', 'x_forwarded_server']
const NEW_ON_THE_LIST = [
  'X-Forwarded-Path', 'X-Script-Name', 'X-Override-URL', 'X-Original-Method', 'X-Method', 'X-Scheme',
  'X-Forwarded-Protocol', 'X-Url-Scheme', 'Front-End-Https', 'X-Original-Proto'
]

describe('a fill', () => {
  it.each([...SPELLINGS, ...NEW_ON_THE_LIST])('does not carry %s, and the page everyone gets is the neutral one', async (field) => {
    const { o, p } = await setup()
    const forged = await get(`${p.url}/page`, { ...HOST, [field]: 'evil.test' })
    expect(forged.body).toBe('page[]')
    // Nothing the origin received carries the forged value (corral sets X-Forwarded-Host itself, to the key's host).
    expect(Object.values(o.requests[0]?.headers ?? {})).not.toContain('evil.test')
    const everyone = await get(`${p.url}/page`, HOST)
    expect(everyone.headers['x-cache']).toBe('HIT')
    expect(everyone.body).toBe('page[]')
  })

  it('forwards underscore names with cache.dropUnderscoreHeaders off, still dropping the listed fields in any spelling', async () => {
    const { o, p } = await setup({ cache: { dropUnderscoreHeaders: false } })
    const got = await get(`${p.url}/page`, { ...HOST, X_Custom: 'one', X_Host: 'evil.test' })
    expect(got.body).toBe('page[x-custom=one]')
    expect(o.requests[0]?.headers['x_custom']).toBe('one')
    expect(o.requests[0]?.headers['x_host']).toBeUndefined()
  })
})

describe('a pass', () => {
  it('keeps underscore names (its answer reaches only its client) but not forgeable forwarding fields in any spelling', async () => {
    const { o, p } = await setup()
    await get(`${p.url}/form`, { ...HOST, X_Custom: 'one', X_Forwarded_Proto: 'https', 'content-type': 'text/plain' }, 'POST', 'x')
    const headers = o.requests[0]?.headers ?? {}
    expect(headers['x_custom']).toBe('one')
    expect(headers['x_forwarded_proto']).toBeUndefined()
    expect(headers['x-forwarded-proto']).toBe('http')
  })
})

describe('Connection-listed names', () => {
  it('take every spelling of the name with them', async () => {
    const { o, p } = await setup({ cache: { dropUnderscoreHeaders: false } })
    const answer = await rawRequest(p.url, 'GET /conn HTTP/1.1\r\nHost: site.test\r\nX_Trace: abc\r\nConnection: close, X-Trace')
    expect(answer).toMatch(/^HTTP\/1\.1 200 /)
    expect(o.requests[0]?.headers['x_trace']).toBeUndefined()
  })
})

describe('the name rule', () => {
  it('lower-cases and reads `_` as `-`', () => {
    expect(normalizeHeaderName('X_Forwarded_Host')).toBe('x-forwarded-host')
    expect(normalizeHeaderName('x-forwarded_host')).toBe('x-forwarded-host')
    const names = makeHeaderNameSet(['X-Host'])
    expect(hasName(names, 'x_host')).toBe(true)
    expect(hasName(names, 'x-hosts')).toBe(false)
    expect(namesIn({ x_host: 'a', 'x-host': 'b', other: 'c' }, names)).toEqual(['x_host', 'x-host'])
    expect(namesIn({ other: 'c' }, names)).toBeNull()
  })
})

describe('the new keys', () => {
  it('refuse a bad value naming the key', async () => {
    const { parseConfig } = await import('../../src/config/load.js')
    const config = (cache: Record<string, unknown>): string => JSON.stringify({ origin: { url: 'http://127.0.0.1:1' }, cache })
    expect(() => parseConfig(config({ dropUnderscoreHeaders: 'yes' }))).toThrow(/^cache\.dropUnderscoreHeaders/)
    expect(() => parseConfig(config({ credentialHeaders: ['x api key'] }))).toThrow(/^cache\.credentialHeaders\[0\]/)
    expect(() => parseConfig(config({ credentialHeaders: 'X-Api-Key' }))).toThrow(/^cache\.credentialHeaders/)
    expect(parseConfig(config({ credentialHeaders: ['X_Tenant'] })).config.cache.credentialHeaders).toEqual(['X_Tenant'])
  })
})
