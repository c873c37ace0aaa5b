import { describe, expect, it } from 'vitest'
import { acceptedCodings, chooseBody, codingOf } from '../../src/policy/negotiate.js'
import type { StoredEntry } from '../../src/core/entry.js'
import { makeCodedBody } from '../../src/core/coded-body.js'

const identityHeaders = ['content-type', 'text/html', 'etag', '"v1"', 'content-length', '10', 'vary', 'Accept-Encoding']
const entry = {
  kind: 'entry',
  key: 'k',
  status: 200,
  headers: identityHeaders,
  body: Buffer.alloc(10),
  etag: '"v1"',
  lastModified: undefined,
  storedAt: 0,
  initialAgeSeconds: 0,
  freshUntil: 1,
  staleWhileRevalidateUntil: 1,
  staleIfErrorUntil: 1,
  mustRevalidate: false,
  encoded: [makeCodedBody(identityHeaders, '"v1"', 'br', Buffer.alloc(3)), makeCodedBody(identityHeaders, '"v1"', 'gzip', Buffer.alloc(4))]
} satisfies StoredEntry

const chosen = (ae: string | undefined): string | null => codingOf(chooseBody(entry, ae))

describe('Accept-Encoding negotiation (RFC 9110 §12.5.3)', () => {
  it('prefers br, then gzip, among codings of equal q', () => {
    expect(chosen('gzip, deflate, br')).toBe('br')
    expect(chosen('gzip, deflate, br, zstd')).toBe('br')
    expect(chosen('gzip')).toBe('gzip')
  })

  it('follows q-values over corral\'s own order', () => {
    expect(chosen('br;q=0.5, gzip')).toBe('gzip')
    expect(chosen('br;q=0.1, gzip;q=0.2, identity;q=0.9')).toBeNull()
  })

  it('gzip;q=0 and br;q=0 are refusals', () => {
    expect(chosen('gzip;q=0, br')).toBe('br')
    expect(chosen('br;q=0, gzip')).toBe('gzip')
    expect(chosen('br;q=0, gzip;q=0')).toBeNull()
  })

  it('* accepts every coding not named, identity;q=0 refuses identity', () => {
    expect(chosen('*')).toBe('br')
    expect(chosen('br;q=0, *')).toBe('gzip')
    expect(acceptedCodings('identity;q=0, gzip')).toEqual(['gzip'])
    expect(acceptedCodings('*;q=0')).toEqual([])
  })

  it('no header, an empty one or identity alone get identity', () => {
    expect(chosen(undefined)).toBeNull()
    expect(chosen('')).toBeNull()
    expect(chosen('identity')).toBeNull()
  })

  it('a client refusing everything corral has still gets identity (an unreadable page beats an error)', () => {
    expect(chosen('identity;q=0, deflate')).toBeNull()
    expect(chooseBody(entry, '*;q=0')).toBe(entry)
  })

  it('answers a repeated value from its memo: the same array, nothing allocated', () => {
    expect(acceptedCodings('gzip, br')).toBe(acceptedCodings('gzip, br'))
  })

  it('an entry without coded bodies is itself, whatever the client accepts', () => {
    const plain = { ...entry, encoded: undefined }
    expect(chooseBody(plain, 'br')).toBe(plain)
  })

  it('header lines sent twice are read as one list', () => {
    expect(codingOf(chooseBody(entry, ['identity;q=0', 'gzip']))).toBe('gzip')
  })
})
