import { describe, expect, it } from 'vitest'
import { makeTypeMatcher, mediaTypeOf, planBody, withoutAcceptEncoding, type CompressSettings } from '../../src/policy/compress.js'
import { addVaryAcceptEncoding, codedEtag, makeCodedBody } from '../../src/core/coded-body.js'

const settings: CompressSettings = {
  codings: ['br', 'gzip'],
  isCompressibleType: makeTypeMatcher(['text/*', 'application/json', 'application/*+json', 'image/svg+xml']),
  minBytes: 1400,
  maxBytes: 1_000_000,
  brotliQuality: 6,
  gzipLevel: 6,
  zstdLevel: 3
}

describe('planBody: what a fill does with a body', () => {
  it('compresses a text page of a useful size into every coding', () => {
    expect(planBody({ 'content-type': 'text/html; charset=utf-8' }, 50_000, settings)).toEqual({ kind: 'compress', codings: ['br', 'gzip'] })
    expect(planBody({ 'content-type': 'application/ld+json' }, 5000, settings).kind).toBe('compress')
    expect(planBody({ 'content-type': 'image/svg+xml' }, 5000, settings).kind).toBe('compress')
  })

  it('keeps small, large and non-text bodies as they are', () => {
    expect(planBody({ 'content-type': 'text/html' }, 1399, settings)).toEqual({ kind: 'keep', reason: 'small' })
    expect(planBody({ 'content-type': 'text/html' }, 1_000_001, settings)).toEqual({ kind: 'keep', reason: 'large' })
    expect(planBody({ 'content-type': 'image/png' }, 50_000, settings)).toEqual({ kind: 'keep', reason: 'type' })
    expect(planBody({}, 50_000, settings)).toEqual({ kind: 'keep', reason: 'type' })
  })

  it('RFC 9110 §7.7 / RFC 9111 §5.2.2.6: no-transform is never compressed nor decoded', () => {
    expect(planBody({ 'content-type': 'text/html', 'cache-control': 'max-age=60, no-transform' }, 50_000, settings)).toEqual({ kind: 'keep', reason: 'no-transform' })
    expect(planBody({ 'content-type': 'text/html', 'content-encoding': 'gzip', 'cache-control': 'no-transform' }, 50_000, settings).kind).toBe('keep')
  })

  it('an origin\'s gzip or br is decoded, never encoded again, and the other codings are made from identity', () => {
    expect(planBody({ 'content-type': 'text/html', 'content-encoding': 'gzip' }, 5000, settings)).toEqual({ kind: 'decode', from: 'gzip', codings: ['br'] })
    expect(planBody({ 'content-type': 'text/html', 'content-encoding': 'x-gzip' }, 5000, settings)).toMatchObject({ kind: 'decode', from: 'gzip' })
    expect(planBody({ 'content-type': 'application/octet-stream', 'content-encoding': 'br' }, 5000, settings)).toEqual({ kind: 'decode', from: 'br', codings: [] })
  })

  it('a coding corral cannot decode, or several, is stored as the origin sent it', () => {
    expect(planBody({ 'content-type': 'text/html', 'content-encoding': 'deflate' }, 5000, settings)).toEqual({ kind: 'keep', reason: 'encoded' })
    expect(planBody({ 'content-type': 'text/html', 'content-encoding': 'gzip, br' }, 5000, settings)).toEqual({ kind: 'keep', reason: 'encoded' })
    expect(planBody({ 'content-type': 'text/html', 'content-encoding': 'zstd' }, 5000, settings)).toEqual({ kind: 'keep', reason: 'encoded' })
  })

  it('Content-Encoding: identity is no coding', () => {
    expect(planBody({ 'content-type': 'text/css', 'content-encoding': 'identity' }, 5000, settings).kind).toBe('compress')
  })
})

describe('media types', () => {
  it('reads the type without its parameters, lower-cased', () => {
    expect(mediaTypeOf('Text/HTML ; charset=utf-8')).toBe('text/html')
  })

  it('matches exact types, whole types and structured-syntax suffixes only', () => {
    const m = makeTypeMatcher(['text/*', 'application/*+xml', 'application/json'])
    expect(m('text/css')).toBe(true)
    expect(m('application/atom+xml')).toBe(true)
    expect(m('application/json')).toBe(true)
    expect(m('application/jsonp')).toBe(false)
    expect(m('image/png')).toBe(false)
    expect(m('application/xml-dtd')).toBe(false)
  })
})

describe('representation headers', () => {
  it('gives each coding its own weak entity-tag, so 304s never mix codings', () => {
    expect(codedEtag('"v1"', 'br')).toBe('W/"v1-br"')
    expect(codedEtag('W/"v1"', 'gzip')).toBe('W/"v1-gzip"')
    expect(codedEtag('unquoted', 'gzip')).toBeUndefined()
    expect(codedEtag(undefined, 'gzip')).toBeUndefined()
  })

  it('adds Accept-Encoding to Vary once, keeping the origin\'s names', () => {
    const a = ['vary', 'Accept-Language']
    addVaryAcceptEncoding(a)
    expect(a).toEqual(['vary', 'Accept-Language, Accept-Encoding'])
    const b = ['vary', 'accept-encoding']
    addVaryAcceptEncoding(b)
    expect(b).toEqual(['vary', 'accept-encoding'])
    const c = ['content-type', 'text/html']
    addVaryAcceptEncoding(c)
    expect(c).toEqual(['content-type', 'text/html', 'vary', 'Accept-Encoding'])
  })

  it('a coded body has its own Content-Encoding, Content-Length and ETag over the identity headers', () => {
    const coded = makeCodedBody(['content-type', 'text/html', 'etag', '"v1"', 'content-length', '100', 'vary', 'Accept-Encoding'], '"v1"', 'gzip', Buffer.alloc(7))
    expect(coded.headers).toEqual(['content-type', 'text/html', 'vary', 'Accept-Encoding', 'content-encoding', 'gzip', 'content-length', '7', 'etag', 'W/"v1-gzip"'])
    expect(coded.etag).toBe('W/"v1-gzip"')
  })

  it('an entry corral negotiates is not keyed by Accept-Encoding', () => {
    expect(withoutAcceptEncoding(['accept-encoding'])).toBeNull()
    expect(withoutAcceptEncoding(['accept-language', 'accept-encoding'])).toEqual(['accept-language'])
    expect(withoutAcceptEncoding(null)).toBeNull()
  })
})
