import { describe, expect, it } from 'vitest'
import {
  DEFAULT_TARGETED_FIELDS, REMOVED_BEFORE_DELIVERY, SURROGATE_CAPABILITY, fieldsRemovedBeforeDelivery, makeTargetList,
  parseSurrogateControl, parseTargeted, selectDirectives
} from '../../src/policy/targeted.js'

const select = (headers: Record<string, string>, list = DEFAULT_TARGETED_FIELDS): { source: string, directives: Record<string, string | true> } => {
  const s = selectDirectives(headers, list)
  return { source: s.source, directives: Object.fromEntries(s.directives) }
}

describe('RFC 9213 targeted cache control', () => {
  it('§2.2: the first valid, non-empty field of the target list wins over Cache-Control', () => {
    const headers = { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600', 'corral-cache-control': 'max-age=60' }
    expect(select(headers)).toEqual({ source: 'corral-cache-control', directives: { 'max-age': '60' } })
    expect(select({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' })).toEqual({ source: 'cdn-cache-control', directives: { 'max-age': '600' } })
  })

  it('§2.1: an empty field or a parse error means the field is not there (next one, then Cache-Control)', () => {
    expect(select({ 'corral-cache-control': 'max-age=60, &&&', 'cdn-cache-control': 'max-age=5' }).source).toBe('cdn-cache-control')
    expect(select({ 'corral-cache-control': '', 'cache-control': 'max-age=7' })).toEqual({ source: 'cache-control', directives: { 'max-age': '7' } })
    expect(select({ 'cdn-cache-control': 'Max-Age=60', 'cache-control': 'public' }).source).toBe('cache-control')
  })

  it('the precedence is configurable (makeTargetList, at config load)', () => {
    const list = makeTargetList(['CDN-Cache-Control', ' Corral-Cache-Control', 'cdn-cache-control'])
    expect(list).toEqual(['cdn-cache-control', 'corral-cache-control'])
    expect(select({ 'cdn-cache-control': 'max-age=1', 'corral-cache-control': 'max-age=2' }, list).source).toBe('cdn-cache-control')
  })

  it('§2.1: dictionary members map onto directive arguments; decimals stay text, false and inner lists drop', () => {
    expect(Object.fromEntries(parseTargeted('max-age=60, no-store=?0, no-cache="set-cookie", s=tok, d=1.5, l=(a b), private') ?? []))
      .toEqual({ 'max-age': '60', 'no-cache': 'set-cookie', s: 'tok', d: '1.5', private: true })
    expect(parseTargeted('max-age=60;ignored=1')?.get('max-age')).toBe('60')
  })

  it('§3: CDN-Cache-Control is forwarded; corral\'s own field and Surrogate-Control are removed before delivery', () => {
    expect([...REMOVED_BEFORE_DELIVERY].sort()).toEqual(['corral-cache-control', 'surrogate-control'])
    expect([...fieldsRemovedBeforeDelivery(['edge-cache-control', 'cdn-cache-control'])].sort()).toEqual(['edge-cache-control', 'surrogate-control'])
  })
})

describe('W3C Edge Architecture 1.0 Surrogate-Control', () => {
  it('§3: directives for corral (`;corral`) override untargeted ones; other devices are ignored', () => {
    expect(Object.fromEntries(parseSurrogateControl('max-age=10, max-age=60;corral, no-store;other') ?? [])).toEqual({ 'max-age': '60' })
    expect(Object.fromEntries(parseSurrogateControl(['no-store;corral', 'max-age=5']) ?? [])).toEqual({ 'no-store': true, 'max-age': '5' })
  })

  it('§3: max-age=N+M is N seconds fresh, then M as stale-if-error; no-store-remote and content do not concern corral', () => {
    expect(Object.fromEntries(parseSurrogateControl('max-age=30+60, content="ESI/1.0", no-store-remote') ?? [])).toEqual({ 'max-age': '30', 'stale-if-error': '60' })
  })

  it('a field with nothing for corral falls through to the next field', () => {
    expect(parseSurrogateControl('max-age=60;other')).toBeNull()
    expect(select({ 'surrogate-control': 'no-store;other', 'cache-control': 'max-age=9' }).source).toBe('cache-control')
    expect(select({ 'surrogate-control': 'max-age=60', 'cache-control': 'no-store' })).toEqual({ source: 'surrogate-control', directives: { 'max-age': '60' } })
  })

  it('§2.1: corral advertises itself to the origin with Surrogate-Capability', () => {
    expect(SURROGATE_CAPABILITY).toBe('corral="Surrogate/1.0"')
  })
})
