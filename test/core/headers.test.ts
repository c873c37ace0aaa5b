import { describe, expect, it } from 'vitest'
import { appendVia, dropConnectionListed, removeOwnVia, toFlatHeaders } from '../../src/core/headers.js'
import { dropAnswerShaping, makeFillHeaderRules, makeOriginRequestHeaders, withKeyedHeaders } from '../../src/core/origin-headers.js'
import { normalizeAcceptEncoding } from '../../src/core/vary.js'

describe('normalizeAcceptEncoding', () => {
  it.each([
    ['gzip, deflate, br', 'br, gzip, deflate'],
    ['br;q=1.0, gzip;q=0.8', 'br, gzip'],
    ['gzip;q=0, br', 'br'],
    ['gzip;q=0.5', 'gzip'],
    ['identity', ''],
    ['', '']
  ])('%s → %s', (input, expected) => {
    expect(normalizeAcceptEncoding(input)).toBe(expected)
  })
})

describe('toFlatHeaders', () => {
  it('drops hop-by-hop fields and those Connection names, and keeps multi-valued fields apart', () => {
    const flat = toFlatHeaders({
      connection: 'x-hop, close',
      'x-hop': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'text/html'
    }, new Set())
    expect(flat).toEqual(['set-cookie', 'a=1', 'set-cookie', 'b=2', 'content-type', 'text/html'])
  })
})

describe('dropConnectionListed', () => {
  it('removes the fields Connection names, whatever else it says, and never Host', () => {
    const headers = { host: 'h', connection: 'Keep-Alive, Accept-Language, host', 'accept-language': 'fr', accept: '*/*' }
    dropConnectionListed(headers)
    expect(headers).toEqual({ host: 'h', connection: 'Keep-Alive, Accept-Language, host', accept: '*/*' })
  })

  it('leaves the request alone for the bare keep-alive and close spellings', () => {
    for (const connection of ['keep-alive', 'close', 'Keep-Alive', 'CLOSE']) {
      const headers = { host: 'h', connection, 'keep-alive': 'timeout=5', accept: '*/*' }
      dropConnectionListed(headers)
      expect(headers).toEqual({ host: 'h', connection, 'keep-alive': 'timeout=5', accept: '*/*' })
    }
  })
})

describe('makeOriginRequestHeaders', () => {
  it('sets forwarding headers and drops the ones a client could use to poison the cache', () => {
    const out = makeOriginRequestHeaders({ host: 'www.example.com', 'x-forwarded-host': 'evil', 'x-forwarded-proto': 'https', 'x-corral-debug': 'secret', te: 'trailers' }, '10.0.0.1', 'http', null)
    expect(out['x-forwarded-host']).toBe('www.example.com')
    expect(out['x-forwarded-proto']).toBe('http')
    expect(out['x-forwarded-for']).toBe('10.0.0.1')
    expect(out['x-corral-debug']).toBeUndefined()
    expect(out.te).toBeUndefined()
    expect(out.via).toBe('1.1 corral')
  })

  it.each([
    'forwarded', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-ssl', 'x-forwarded-scheme', 'x-original-url', 'x-rewrite-url'
  ])('drops a client-supplied %s', (name) => {
    const out = makeOriginRequestHeaders({ host: 'h', [name]: 'forged', accept: '*/*' }, '10.0.0.1', 'http', null)
    expect(out[name]).toBeUndefined()
    expect(out.accept).toBe('*/*')
  })

  it('never forwards Expect (the client was already answered 100 Continue; undici refuses it)', () => {
    const out = makeOriginRequestHeaders({ host: 'h', expect: '100-continue' }, undefined, 'http', null)
    expect(out.expect).toBeUndefined()
  })

  it('applies overrides, null meaning remove', () => {
    const out = makeOriginRequestHeaders({ host: 'h', 'if-none-match': '"x"', 'accept-encoding': 'gzip, br' }, undefined, 'http', { 'if-none-match': null, 'accept-encoding': 'br, gzip' })
    expect(out['if-none-match']).toBeUndefined()
    expect(out['accept-encoding']).toBe('br, gzip')
  })
})

describe('Via', () => {
  it('appends corral to the last Via field, so it comes after every earlier hop', () => {
    const flat = ['via', '1.0 a', 'content-type', 'text/html', 'via', '1.1 b']
    appendVia(flat)
    expect(flat).toEqual(['via', '1.0 a', 'content-type', 'text/html', 'via', '1.1 b, 1.1 corral'])
    const none = ['content-type', 'text/html']
    appendVia(none)
    expect(none).toEqual(['content-type', 'text/html', 'via', '1.1 corral'])
  })

  it('removeOwnVia takes back exactly what appendVia added', () => {
    expect(removeOwnVia('1.1 corral')).toBeUndefined()
    expect(removeOwnVia('1.1 origin-cdn, 1.1 corral')).toBe('1.1 origin-cdn')
    expect(removeOwnVia('1.1 corral, 1.1 corral')).toBe('1.1 corral')
    expect(removeOwnVia('1.1 origin-cdn')).toBe('1.1 origin-cdn')
  })
})

describe('answer-shaping fields on fills (issue 13)', () => {
  const rules = makeFillHeaderRules([])

  it('drops them from the origin headers and answers the client headers as the origin saw them', () => {
    const incoming = { host: 'h', 'x-host': 'evil', 'x-http-method-override': 'DELETE', accept: '*/*' }
    const out: Record<string, string | string[]> = { ...incoming }
    const seen = dropAnswerShaping(out, incoming, rules, null)
    expect(out).toEqual({ host: 'h', accept: '*/*' })
    expect(seen).toEqual({ host: 'h', accept: '*/*' })
    // The request itself is left alone: the client's own Vary lookups still see what it sent.
    expect(incoming['x-host']).toBe('evil')
  })

  it('copies nothing when none is present, and keeps those the Vary index names', () => {
    const plain = { host: 'h' }
    expect(dropAnswerShaping({ host: 'h' }, plain, rules, null)).toBe(plain)
    const incoming = { host: 'h', 'x-forwarded-server': 'lb1' }
    const out: Record<string, string | string[]> = { ...incoming }
    expect(dropAnswerShaping(out, incoming, rules, ['x-forwarded-server'])).toBe(incoming)
    expect(out['x-forwarded-server']).toBe('lb1')
  })

  it('fields the operator allows are kept and keyed as if the origin had sent Vary with them', () => {
    const allowed = makeFillHeaderRules(['X-Forwarded-Server'])
    expect(allowed.keyed).toEqual(['x-forwarded-server'])
    expect(allowed.dropped).not.toContain('x-forwarded-server')
    const incoming = { 'x-forwarded-server': 'lb1' }
    expect(dropAnswerShaping({ ...incoming }, incoming, allowed, null)).toBe(incoming)
    expect(withKeyedHeaders(null, allowed.keyed)).toEqual(['x-forwarded-server'])
    expect(withKeyedHeaders(['accept-encoding', 'x-forwarded-server'], allowed.keyed)).toEqual(['accept-encoding', 'x-forwarded-server'])
    expect(withKeyedHeaders(['*'], allowed.keyed)).toEqual(['*'])
    expect(withKeyedHeaders(null, [])).toBeNull()
  })
})
