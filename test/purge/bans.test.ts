import { describe, expect, it } from 'vitest'
import { BanList, judge, parseBanRecord, recordMatches, type BanRecord } from '../../src/purge/bans.js'
import { makeStale as soften } from '../../src/purge/stale.js'
import { makeEntry } from '../store/records.js'

const T = 1_700_000_000_000
const entry = (key: string, tags?: string[], requestedAt = T) => makeEntry(key, { requestedAt, tags, storedAt: T, freshUntil: T + 60_000, staleWhileRevalidateUntil: T + 70_000 })
const rec = (kind: BanRecord['kind'], value: string, at = T + 1, soft = false, host = ''): BanRecord => ({ kind, value, host, at, soft })

describe('recordMatches', () => {
  it('url: the primary key and its variants, not a longer path', () => {
    expect(recordMatches(rec('url', 'h.test/a'), entry('h.test/a'))).toBe(true)
    expect(recordMatches(rec('url', 'h.test/a'), entry('h.test/a\nepoch\naccept-encoding:gzip'))).toBe(true)
    expect(recordMatches(rec('url', 'h.test/a'), entry('h.test/ab'))).toBe(false)
  })

  it('prefix: keys starting with host + path prefix', () => {
    expect(recordMatches(rec('prefix', 'h.test/news/'), entry('h.test/news/1?x=1'))).toBe(true)
    expect(recordMatches(rec('prefix', 'h.test/news/'), entry('other.test/news/1'))).toBe(false)
  })

  it('tag: entries carrying it, on any host or the one named', () => {
    expect(recordMatches(rec('tag', 'a'), entry('h.test/x', ['b', 'a']))).toBe(true)
    expect(recordMatches(rec('tag', 'a'), entry('h.test/x'))).toBe(false)
    expect(recordMatches(rec('tag', 'a', T + 1, false, 'h.test'), entry('h.test/x', ['a']))).toBe(true)
    expect(recordMatches(rec('tag', 'a', T + 1, false, 'h.test'), entry('h.testing/x', ['a']))).toBe(false)
  })
})

describe('judge', () => {
  it('touches only entries whose fill asked the origin before the record', () => {
    expect(judge(rec('tag', 'a', T + 1), entry('h/x', ['a'], T))).toEqual({ action: 'drop' })
    expect(judge(rec('tag', 'a', T), entry('h/x', ['a'], T))).toEqual({ action: 'keep' })
    expect(judge(rec('tag', 'a', T + 1, true), entry('h/x', ['a'], T))).toEqual({ action: 'soften', at: T + 1 })
  })

  it('uses storedAt for an entry stored before requestedAt existed', () => {
    const old = makeEntry('h/x', { storedAt: T, tags: ['a'] })
    expect(judge(rec('tag', 'a', T + 1), old)).toEqual({ action: 'drop' })
  })
})

describe('soften', () => {
  it('makes a fresh entry stale from `at`, servable stale at least softStaleMs; idempotent', () => {
    const e = makeEntry('h/x', { freshUntil: T + 60_000, staleWhileRevalidateUntil: T + 60_000 })
    const soft = soften(e, T + 50_000, 30_000)
    expect([soft.freshUntil, soft.staleWhileRevalidateUntil, soft.staleIfErrorUntil]).toEqual([T + 50_000, T + 80_000, e.staleIfErrorUntil])
    expect(soften(soft, T + 50_000, 30_000)).toBe(soft)
  })

  it('leaves an entry already stale as it is', () => {
    const e = entry('h/x')
    expect(soften(e, T + 61_000, 30_000)).toBe(e)
  })
})

describe('BanList.screen', () => {
  it('answers the entry itself when it was requested after every record (no lookup)', () => {
    const bans = new BanList(30_000)
    bans.add(rec('tag', 'a', T + 1))
    const later = entry('h/x', ['a'], T + 2)
    expect(bans.screen(later)).toBe(later)
  })

  it('a hard record wins over a soft one; url records find variants', () => {
    const bans = new BanList(30_000)
    bans.add(rec('tag', 'a', T + 5, true))
    bans.add(rec('url', 'h/x', T + 1))
    expect(bans.screen(entry('h/x\ne\nv:1', ['a']))).toBeUndefined()
    const soft = bans.screen(entry('h/y', ['a']))
    expect(soft?.freshUntil).toBe(T + 5)
    expect(bans.screen(entry('h/z', ['b']))?.freshUntil).toBe(T + 60_000)
  })

  it('holds a record once, however often it arrives', () => {
    const bans = new BanList(30_000)
    bans.add(rec('tag', 'a', T + 1))
    bans.add(rec('tag', 'a', T + 1))
    bans.add(rec('prefix', 'h/', T + 1))
    bans.add(rec('prefix', 'h/', T + 1))
    bans.add(rec('tag', 'a', T + 1, true))
    expect(bans.size).toBe(3)
  })

  it('prefix records scan; expire forgets old records', () => {
    const bans = new BanList(30_000)
    bans.add(rec('prefix', 'h/news/', T + 1))
    bans.add(rec('tag', 'a', T + 10))
    expect(bans.screen(entry('h/news/1'))).toBeUndefined()
    bans.expire(T + 2)
    expect(bans.size).toBe(1)
    expect(bans.screen(entry('h/news/1'))).toBeDefined()
  })
})

describe('parseBanRecord', () => {
  it('accepts a record and refuses anything else', () => {
    expect(parseBanRecord({ kind: 'tag', value: 'a', host: '', at: T, soft: true })).toEqual({ kind: 'tag', value: 'a', host: '', at: T, soft: true })
    expect(parseBanRecord({ kind: 'ban', value: 'a', host: '', at: T, soft: true })).toBeUndefined()
    expect(parseBanRecord({ kind: 'tag', value: 'a', host: '', at: 'now', soft: true })).toBeUndefined()
    expect(parseBanRecord(null)).toBeUndefined()
  })
})
