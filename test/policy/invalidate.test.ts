import { describe, expect, it } from 'vitest'
import { decideInvalidation, isSafeMethod, type UnsafeExchange } from '../../src/policy/invalidate.js'

const ex = (over: Partial<UnsafeExchange> = {}): UnsafeExchange => ({
  method: 'POST', status: 200, target: '/items/1?x=1', host: 'shop.example', location: undefined, contentLocation: undefined, scheme: 'http', ...over
})

describe('RFC 9111 §4.4 invalidation', () => {
  it('RFC 9110 §9.2.1: GET, HEAD, OPTIONS and TRACE are safe; every other method is not', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'TRACE']) expect(isSafeMethod(m)).toBe(true)
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'M-SEARCH', 'get']) expect(isSafeMethod(m)).toBe(false)
  })

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'M-SEARCH'])('a 2xx to %s invalidates the target URI', (method) => {
    expect(decideInvalidation(ex({ method }))).toEqual([{ host: 'shop.example', target: '/items/1?x=1' }])
  })

  it('a 3xx invalidates too; an error or a safe method invalidates nothing', () => {
    expect(decideInvalidation(ex({ status: 303 }))).toHaveLength(1)
    expect(decideInvalidation(ex({ status: 404 }))).toEqual([])
    expect(decideInvalidation(ex({ status: 500 }))).toEqual([])
    expect(decideInvalidation(ex({ method: 'GET' }))).toEqual([])
  })

  it('adds same-origin Location and Content-Location, relative or absolute', () => {
    const uris = decideInvalidation(ex({ location: '/items/2', contentLocation: 'http://SHOP.example:80/items/3?y=2' }))
    expect(uris).toEqual([
      { host: 'shop.example', target: '/items/1?x=1' },
      { host: 'shop.example', target: '/items/2' },
      { host: 'shop.example', target: '/items/3?y=2' }
    ])
    expect(decideInvalidation(ex({ location: '../list' }))).toContainEqual({ host: 'shop.example', target: '/list' })
  })

  it('never invalidates another origin (host, port or scheme)', () => {
    for (const location of ['http://evil.example/items/1', 'https://shop.example/items/1', 'http://shop.example:8080/x', '//evil.example/x']) {
      expect(decideInvalidation(ex({ location }))).toEqual([{ host: 'shop.example', target: '/items/1?x=1' }])
    }
  })

  it('keeps the target as the client spelled it (it names the same key), absolute-form included', () => {
    expect(decideInvalidation(ex({ target: '/a/../b' }))[0]).toEqual({ host: 'shop.example', target: '/a/../b' })
    expect(decideInvalidation(ex({ target: 'http://shop.example/p?q' }))[0]).toEqual({ host: 'shop.example', target: '/p?q' })
  })
})
