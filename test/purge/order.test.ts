import { describe, expect, it } from 'vitest'
import { makeBanRecords, parsePurgeQuery } from '../../src/purge/order.js'
import { ConfigError } from '../../src/core/errors.js'
import type { KeyOptions } from '../../src/key.js'

const OPTIONS: KeyOptions = { sortQuery: true, ignoreQueryParams: new Set(['utm_source']), includeHost: true }
const q = (s: string): URLSearchParams => new URLSearchParams(s)

describe('parsePurgeQuery', () => {
  it('reads one kind, tags repeated or comma-separated, soft', () => {
    expect(parsePurgeQuery(q('url=http://h.test/a'))).toEqual({ kind: 'url', values: ['http://h.test/a'], host: undefined, soft: false })
    expect(parsePurgeQuery(q('tag=a&tag=b,c&soft=1'))).toEqual({ kind: 'tag', values: ['a', 'b', 'c'], host: undefined, soft: true })
    expect(parsePurgeQuery(q('prefix=/news/&host=h.test&soft=0'))).toEqual({ kind: 'prefix', values: ['/news/'], host: 'h.test', soft: false })
  })

  it('refuses no kind, two kinds, and a soft that is not a boolean, naming the parameter', () => {
    expect(() => parsePurgeQuery(q(''))).toThrow(ConfigError)
    expect(() => parsePurgeQuery(q('url=/a&tag=b'))).toThrow(/one kind/)
    expect(() => parsePurgeQuery(q('tag=a&soft=yes'))).toThrow(/^soft:/)
  })
})

describe('makeBanRecords', () => {
  it('builds keys and prefixes the way requests are keyed', () => {
    expect(makeBanRecords(parsePurgeQuery(q(`url=${encodeURIComponent('http://H.test/a?utm_source=x&b=2&a=1')}`)), OPTIONS, 5)).toEqual([{ kind: 'url', value: 'h.test/a?a=1&b=2', host: '', at: 5, soft: false }])
    expect(makeBanRecords(parsePurgeQuery(q('prefix=/news/&host=H.test&soft=1')), OPTIONS, 5)).toEqual([{ kind: 'prefix', value: 'h.test/news/', host: '', at: 5, soft: true }])
    expect(makeBanRecords(parsePurgeQuery(q('tag=a&host=H.test')), OPTIONS, 5)).toEqual([{ kind: 'tag', value: 'a', host: 'h.test', at: 5, soft: false }])
  })

  it('refuses a prefix without a host or not a path', () => {
    expect(() => makeBanRecords(parsePurgeQuery(q('prefix=/news/')), OPTIONS, 5)).toThrow(/^host:/)
    expect(() => makeBanRecords(parsePurgeQuery(q('prefix=news&host=h.test')), OPTIONS, 5)).toThrow(/^prefix:/)
    expect(() => makeBanRecords(parsePurgeQuery(q('prefix=/a?b=1&host=h.test')), OPTIONS, 5)).toThrow(/^prefix:/)
  })
})
