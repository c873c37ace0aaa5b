import { describe, expect, it } from 'vitest'
import { decideHeadUpdate, makeConditionalHeaders, mergeNotModified } from '../../src/policy/revalidate.js'
import { makeEntry } from '../store/records.js'

const stored = makeEntry('h/p', {
  headers: [
    'content-type', 'text/html', 'content-length', '512', 'content-encoding', 'gzip', 'etag', '"v1"',
    'content-md5', 'abc', 'cache-control', 'max-age=60', 'x-old', '1', 'via', '1.0 up, 1.1 corral'
  ],
  etag: '"v1"',
  lastModified: 'Sun, 06 Nov 1994 08:49:37 GMT'
})

describe('RFC 9111 §4.3.1 validators to the origin', () => {
  it('sends If-None-Match and If-Modified-Since from the stored validators', () => {
    expect(makeConditionalHeaders(stored)).toEqual({ 'if-none-match': '"v1"', 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' })
    expect(makeConditionalHeaders(makeEntry('k', { etag: undefined, lastModified: undefined }))).toBeNull()
  })
})

describe('RFC 9111 §3.2 / §4.3.4 a 304 updates the stored headers', () => {
  const merged = mergeNotModified(stored, {
    'content-type': 'text/plain',
    'content-length': '0',
    'content-encoding': 'br',
    'content-md5': 'zzz',
    etag: '"v2"',
    'cache-control': 'max-age=120',
    'x-new': '2',
    connection: 'x-hop',
    'x-hop': 'nope',
    'transfer-encoding': 'chunked'
  })

  it('keeps the fields that describe the stored bytes', () => {
    expect(merged['content-length']).toBe('512')
    expect(merged['content-encoding']).toBe('gzip')
    expect(merged['content-md5']).toBe('abc')
    expect(merged.etag).toBe('"v1"')
    expect(merged['transfer-encoding']).toBeUndefined()
  })

  it('updates Content-Type and every other field, adds new ones, keeps the rest', () => {
    expect(merged['content-type']).toBe('text/plain')
    expect(merged['cache-control']).toBe('max-age=120')
    expect(merged['x-new']).toBe('2')
    expect(merged['x-old']).toBe('1')
  })

  it('merges no field the 304\'s Connection lists, and drops corral\'s own Via entry', () => {
    expect(merged['x-hop']).toBeUndefined()
    expect(merged.connection).toBeUndefined()
    expect(merged.via).toBe('1.0 up')
  })
})

describe('RFC 9111 §4.3.5 freshening with HEAD', () => {
  it('updates the stored GET when the validators and Content-Length agree', () => {
    const u = decideHeadUpdate(stored, 200, { etag: '"v1"', 'content-length': '512', 'cache-control': 'max-age=300', 'content-type': 'text/css' })
    expect(u.kind).toBe('update')
    expect(u.kind === 'update' && u.headers['cache-control']).toBe('max-age=300')
    expect(u.kind === 'update' && u.headers['content-type']).toBe('text/css')
  })

  it('updates when the HEAD carries no validator at all', () => {
    expect(decideHeadUpdate(stored, 200, { 'cache-control': 'max-age=5' }).kind).toBe('update')
  })

  it.each([
    [{ etag: '"v2"' }],
    [{ 'last-modified': 'Mon, 07 Nov 1994 08:49:37 GMT' }],
    [{ 'content-length': '9' }]
  ])('marks the stored GET stale when %o differs', (head) => {
    expect(decideHeadUpdate(stored, 200, head)).toEqual({ kind: 'stale' })
  })

  it('only a 200 updates', () => {
    expect(decideHeadUpdate(stored, 404, { etag: '"v1"' })).toEqual({ kind: 'stale' })
  })
})
