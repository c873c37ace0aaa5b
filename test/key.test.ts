import { describe, expect, it } from 'vitest'
import { HostNormalizer, isValidHost, joinKey, makeCacheKey, makeVariantKey, normalizeQuery, normalizeSelecting, type KeyOptions } from '../src/key.js'
import { normalizeAcceptLanguage, parseVary } from '../src/core/vary.js'
import { splitTarget } from '../src/core/target.js'

const options: KeyOptions = { sortQuery: true, ignoreQueryParams: new Set(['utm_source', 'fbclid']), includeHost: true }

describe('makeCacheKey', () => {
  it('is host + path for a plain URL, host lower-cased', () => {
    expect(makeCacheKey('WWW.Example.COM', '/a/b', '', options)).toBe('www.example.com/a/b')
  })

  it('drops the default port and a trailing dot so spellings of one host share entries', () => {
    expect(makeCacheKey('example.com:80', '/', '', options)).toBe('example.com/')
    expect(makeCacheKey('example.com.', '/', '', options)).toBe('example.com/')
    expect(makeCacheKey('example.com:8080', '/', '', options)).toBe('example.com:8080/')
  })

  it('sorts query parameters and drops ignored ones', () => {
    expect(makeCacheKey('h', '/p', normalizeQuery('b=2&a=1&utm_source=x&fbclid=y', options), options)).toBe('h/p?a=1&b=2')
    expect(makeCacheKey('h', '/p', normalizeQuery('utm_source=x', options), options)).toBe('h/p')
  })

  it('drops a cloaked parameter with the ignored one it hides in', () => {
    expect(normalizeQuery('id=1&utm_source=x;id=evil', options)).toBe('id=1')
  })

  it('keeps order when sortQuery is off', () => {
    const unsorted = { ...options, sortQuery: false }
    expect(makeCacheKey('h', '/p', normalizeQuery('b=2&a=1', unsorted), unsorted)).toBe('h/p?b=2&a=1')
  })

  it('leaves the host out when includeHost is off', () => {
    expect(makeCacheKey('evil.example', '/p', '', { ...options, includeHost: false })).toBe('/p')
  })

  it('keys a missing Host apart from any real host', () => {
    expect(makeCacheKey(undefined, '/p', '', options)).toBe('/p')
  })
})

describe('HostNormalizer', () => {
  it('answers as isValidHost + makeCacheKey would, for a repeated Host and after a change of Host', () => {
    const hosts = new HostNormalizer()
    for (const host of ['Example.COM:80', 'Example.COM:80', 'evil/x', 'evil/x', 'b.example.', '[::1]:8080', 'Example.COM:80']) {
      const expected = isValidHost(host) ? makeCacheKey(host, '', '', options) : null
      expect(hosts.normalize(host)).toBe(expected)
    }
  })
})

describe('joinKey', () => {
  it('spells the key makeCacheKey spells, with and without a query', () => {
    expect(joinKey('h.example', '/a/b', '')).toBe(makeCacheKey('h.example', '/a/b', '', options))
    expect(joinKey('h.example', '/a', 'x=1')).toBe(makeCacheKey('h.example', '/a', 'x=1', options))
    expect(joinKey('', '/a', '')).toBe('/a')
  })
})

describe('splitTarget', () => {
  it('splits origin-form', () => {
    expect(splitTarget('/a?x=1')).toEqual({ path: '/a', query: 'x=1', host: undefined })
  })

  it('takes the host from absolute-form (RFC 9112 §3.2.2), keeping the path byte for byte', () => {
    expect(splitTarget('http://other.example/a?x=1')).toEqual({ path: '/a', query: 'x=1', host: 'other.example' })
    expect(splitTarget('http://h.example/a/../{b}')).toEqual({ path: '/a/../{b}', query: '', host: 'h.example' })
    expect(splitTarget('http://h.example')).toEqual({ path: '/', query: '', host: 'h.example' })
  })

  it.each([
    ['www.example.com', true], ['www.example.com:8080', true], ['127.0.0.1:80', true], ['[::1]:8080', true],
    ['site.test/evil', false], ['a b', false], ['user@host', false], ['', false]
  ])('isValidHost(%j) is %s', (host, valid) => {
    expect(isValidHost(host)).toBe(valid)
  })
})

describe('variants', () => {
  it('parses Vary into lower-case names without duplicates', () => {
    expect(parseVary('Accept-Encoding, accept-encoding,  Accept-Language')).toEqual(['accept-encoding', 'accept-language'])
    expect(parseVary(undefined)).toBeNull()
    expect(parseVary('*')).toEqual(['*'])
  })

  it('makes one variant key per normalised header value', () => {
    const a = makeVariantKey('h/p', 'e1', ['accept-encoding'], { 'accept-encoding': 'gzip, deflate, br' })
    const b = makeVariantKey('h/p', 'e1', ['accept-encoding'], { 'accept-encoding': 'br, gzip,deflate' })
    const c = makeVariantKey('h/p', 'e1', ['accept-encoding'], { 'accept-encoding': 'identity' })
    expect(a).toBe(b)
    expect(c).not.toBe(a)
  })

  it('changes every variant key when the epoch changes (purge orphans variants)', () => {
    const headers = { 'accept-language': 'en' }
    expect(makeVariantKey('h/p', 'e1', ['accept-language'], headers)).not.toBe(makeVariantKey('h/p', 'e2', ['accept-language'], headers))
  })
})

describe('RFC 9111 §4.1 selecting header normalisation', () => {
  it('Accept-Language: order by weight, case, whitespace, q spelling and q=0 do not make new variants', () => {
    const spellings = ['en-US, fr;q=0.5', 'fr;q=0.50 ,EN-us', 'en-us;q=1.000,fr;q=0.5,de;q=0', ' en-US ,  fr ; q=0.5', ['en-US', 'fr;q=0.5']]
    for (const value of spellings) expect(normalizeAcceptLanguage(value)).toBe('en-us,fr;q=0.5')
    expect(normalizeAcceptLanguage('fr, en')).toBe('fr,en')
    expect(normalizeAcceptLanguage('*;q=0.1, da')).toBe('da,*;q=0.1')
    expect(normalizeAcceptLanguage('en;q=2, bad tag, de')).toBe('de')
    expect(normalizeAcceptLanguage(undefined)).toBe('')
  })

  it('other selecting headers lose the whitespace around commas, and keep their case', () => {
    expect(normalizeSelecting('accept', 'text/html ,  application/json')).toBe('text/html,application/json')
    expect(normalizeSelecting('x-theme', ['Dark', ' Wide'])).toBe('Dark,Wide')
    expect(normalizeSelecting('x-theme', 'Dark')).toBe('Dark')
    expect(normalizeSelecting('x-theme', undefined)).toBe('')
  })

  it('variant keys use the normalised values', () => {
    const a = makeVariantKey('h/p', 'e1', ['accept-language', 'accept'], { 'accept-language': 'de, en;q=0.5', accept: 'a, b' })
    const b = makeVariantKey('h/p', 'e1', ['accept-language', 'accept'], { 'accept-language': 'EN;q=0.5,DE', accept: 'a,b' })
    expect(a).toBe(b)
    expect(makeVariantKey('h/p', 'e1', ['accept-language'], { 'accept-language': 'de' })).not.toBe(makeVariantKey('h/p', 'e1', ['accept-language'], { 'accept-language': 'en' }))
  })
})
