import { describe, expect, it } from 'vitest'
import { makeEntry } from '../../src/core/make-entry.js'
import type { VaryIndex } from '../../src/core/entry.js'
import { decodeFilling, encodeFilling, markFailed, peekFilling, withBody, type FillingRecord } from '../../src/store/filling-record.js'

const DEADLINES = { storedAt: 1000, initialAgeSeconds: 0, freshUntil: 61_000, staleWhileRevalidateUntil: 61_000, staleIfErrorUntil: 61_000, mustRevalidate: false }

function headOf (key: string, length: number | null): FillingRecord['head'] {
  const entry = makeEntry(key, 200, { 'content-type': 'video/mp4', etag: '"v1"' }, Buffer.alloc(0), DEADLINES)
  const headers = entry.headers.slice()
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-length') headers[i + 1] = String(length ?? 0)
  return { ...entry, headers: length === null ? headers.filter((_, i) => headers[i - (i % 2)] !== 'content-length') : headers }
}

function record (key: string, length: number | null, vary: VaryIndex | null = null): FillingRecord {
  return { state: 'filling', length, chunkBytes: 65536, version: 'AAAAAAAAAAAAAAAA', head: headOf(key, length), vary }
}

function contentLength (headers: readonly string[]): string | undefined {
  const i = headers.indexOf('content-length')
  return i === -1 ? undefined : headers[i + 1]
}

describe('store/filling-record: what a filling proxy publishes for its followers', () => {
  it('round-trips a sized fill: the head comes back declaring the body length', () => {
    const got = decodeFilling(encodeFilling(record('h/clip', 300_000)), 'h/clip', () => 'h/clip')
    expect(got?.state).toBe('filling')
    expect(got?.length).toBe(300_000)
    expect(got?.chunkBytes).toBe(65536)
    expect(got?.version).toBe('AAAAAAAAAAAAAAAA')
    expect(got?.head.etag).toBe('"v1"')
    expect(got?.head.storedAt).toBe(1000)
    expect(contentLength(got?.head.headers ?? [])).toBe('300000')
  })

  it('round-trips an unsized fill without a Content-Length, and names the length once written again', () => {
    const unsized = decodeFilling(encodeFilling(record('h/feed', null)), 'h/feed', () => 'h/feed')
    expect(unsized?.length).toBeNull()
    expect(contentLength(unsized?.head.headers ?? [])).toBeUndefined()
    expect(peekFilling(encodeFilling({ ...record('h/feed', null), length: 123_456 }))?.length).toBe(123_456)
    expect(contentLength(withBody(unsized?.head as FillingRecord['head'], Buffer.alloc(70_000)).headers)).toBe('70000')
  })

  it('refuses a damaged item, another key, and another variant', () => {
    const item = encodeFilling(record('h/a', 100_000))
    expect(decodeFilling(item.subarray(0, 20), 'h/a', () => 'h/a')).toBeUndefined()
    expect(decodeFilling(Buffer.concat([Buffer.from([0xC7]), item.subarray(1)]), 'h/a', () => 'h/a')).toBeUndefined()
    expect(decodeFilling(item, 'h/b', () => 'h/b')).toBeUndefined()
    const vary: VaryIndex = { kind: 'vary', key: 'h/v', varyHeaders: ['accept-language'], epoch: 'e1', storedAt: 1000 }
    const varied = encodeFilling({ ...record('h/v~de', 100_000, vary) })
    expect(decodeFilling(varied, 'h/v', () => 'h/v~de')?.vary?.epoch).toBe('e1')
    expect(decodeFilling(varied, 'h/v', () => 'h/v~fr')).toBeUndefined()
  })

  it('marks a record failed without touching the rest', () => {
    const item = encodeFilling(record('h/x', 100_000))
    const failed = markFailed(item)
    expect(peekFilling(item)?.state).toBe('filling')
    expect(peekFilling(failed)?.state).toBe('failed')
    expect(decodeFilling(failed, 'h/x', () => 'h/x')?.state).toBe('failed')
  })
})
