/**
 * Issue 23, item 7: cookies by choice. `cache.requestCookies: origin-decides` (the default) keeps the RFC's rule, which
 * the README now states plainly: a page sent to Alice's cookie request without `private` or `Vary: Cookie` is served
 * to Bob. `pass` (Varnish's default) sends cookie requests to the origin and never stores their answers. Cookies named
 * in `cache.ignoredCookies` (analytics) never count and are dropped from fills.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startOrigin, type OriginHandler, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, type TestProxy } from '../helpers/proxy.js'
import { parseConfig } from '../../src/config/load.js'
import { makeCookiePattern, withoutIgnoredCookies } from '../../src/core/cookies.js'

const opened: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close()
})

/** A careless origin: greets whoever the cookie names, with `max-age=30` and neither `private` nor `Vary: Cookie`. */
const careless: OriginHandler = (req, res) => {
  const who = /sid=(\w+)/.exec(String(req.headers.cookie ?? ''))?.[1] ?? 'anonymous'
  res.writeHead(200, { 'cache-control': 'max-age=30' })
  res.end(`hello ${who}`)
}

async function setup (cache: Record<string, unknown> = {}): Promise<{ o: TestOrigin, p: TestProxy }> {
  const o = await startOrigin(careless)
  opened.push(o)
  const p = await startProxy(o.url, { cache })
  opened.push(p)
  return { o, p }
}

describe('cache.requestCookies', () => {
  it('origin-decides (default): the RFC rule, as documented: Alice\'s page is served to Bob', async () => {
    const { o, p } = await setup()
    expect((await get(`${p.url}/home`, { cookie: 'sid=alice' })).body).toBe('hello alice')
    const bob = await get(`${p.url}/home`, { cookie: 'sid=bob' })
    expect(bob.body).toBe('hello alice')
    expect(bob.headers['x-cache']).toBe('HIT')
    expect(o.count).toBe(1)
  })

  it('pass: a cookie request goes to the origin and its answer is never stored or served to others', async () => {
    const { o, p } = await setup({ requestCookies: 'pass' })
    const alice = await get(`${p.url}/home`, { cookie: 'sid=alice' })
    expect(alice.body).toBe('hello alice')
    expect(alice.headers['x-cache']).toBe('PASS')
    const bob = await get(`${p.url}/home`, { cookie: 'sid=bob' })
    expect(bob.body).toBe('hello bob')
    const anonymous = await get(`${p.url}/home`)
    expect(anonymous.body).toBe('hello anonymous')
    expect(anonymous.headers['x-cache']).toBe('MISS')
    expect((await get(`${p.url}/home`)).headers['x-cache']).toBe('HIT')
    expect(o.count).toBe(3)
  })

  it('pass: analytics cookies alone do not count, and fills never carry them', async () => {
    const { o, p } = await setup({ requestCookies: 'pass' })
    const first = await get(`${p.url}/home`, { cookie: '_ga=GA1.2.3; __utma=1.2; _ga_ABC=x' })
    expect(first.headers['x-cache']).toBe('MISS')
    expect(o.requests[0]?.headers.cookie).toBeUndefined()
    expect((await get(`${p.url}/home`, { cookie: '_gid=7' })).headers['x-cache']).toBe('HIT')
    expect(o.count).toBe(1)
  })

  it('origin-decides: a fill keeps the cookies that count and drops the ignored ones', async () => {
    const { o, p } = await setup()
    await get(`${p.url}/home`, { cookie: '_ga=GA1; sid=alice; __utmz=abc' })
    expect(o.requests[0]?.headers.cookie).toBe('sid=alice')
  })

  it('refuses a value it does not know, naming the key', () => {
    const text = JSON.stringify({ origin: { url: 'http://127.0.0.1:1' }, cache: { requestCookies: 'sometimes' } })
    expect(() => parseConfig(text)).toThrow(/^cache\.requestCookies/)
    const bad = JSON.stringify({ origin: { url: 'http://127.0.0.1:1' }, cache: { ignoredCookies: ['a b'] } })
    expect(() => parseConfig(bad)).toThrow(/^cache\.ignoredCookies/)
  })
})

describe('withoutIgnoredCookies', () => {
  const ignored = makeCookiePattern(['_ga', '_ga_*', '__utm*'])
  it('drops ignored names by pattern, keeps the rest in order, and answers the same string when nothing goes', () => {
    expect(withoutIgnoredCookies('_ga=1; sid=a; __utmz=2; _ga_X=3; lang=en', ignored)).toBe('sid=a; lang=en')
    const untouched = 'sid=a; lang=en'
    expect(withoutIgnoredCookies(untouched, ignored)).toBe(untouched)
    expect(withoutIgnoredCookies('_ga=1;__utma=2', ignored)).toBeUndefined()
    expect(withoutIgnoredCookies('_gax=1', ignored)).toBe('_gax=1')
    expect(withoutIgnoredCookies(undefined, ignored)).toBeUndefined()
  })
})
