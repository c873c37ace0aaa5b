import { describe, expect, it } from 'vitest'
import { decideRangeBytes } from '../../src/policy/range-bytes.js'
import type { StoredEntry } from '../../src/core/entry.js'
import { makeEntry } from '../store/records.js'

const NOW = 1_700_000_000_000
const LENGTH = 10_000
const LM = 'Sun, 06 Nov 1994 08:49:37 GMT'
// The metadata of a chunked entry: headers and deadlines, no body.
const meta: StoredEntry = makeEntry('example.com/clip', {
  body: Buffer.alloc(0),
  lastModified: LM,
  headers: ['content-type', 'video/webm', 'content-length', String(LENGTH), 'date', 'Mon, 07 Nov 1994 08:49:37 GMT', 'last-modified', LM]
})
const bytes = (headers: Record<string, string>, entry: StoredEntry = meta, now = NOW): ReturnType<typeof decideRangeBytes> =>
  decideRangeBytes(headers, entry, LENGTH, now)

describe('the body bytes a Range needs of an entry known by its metadata', () => {
  it('one range: its bytes, with suffix and open ranges placed by the stored length', () => {
    expect(bytes({ range: 'bytes=100-199' })).toEqual({ kind: 'slice', start: 100, end: 199 })
    expect(bytes({ range: 'bytes=-300' })).toEqual({ kind: 'slice', start: 9700, end: 9999 })
    expect(bytes({ range: 'bytes=9990-' })).toEqual({ kind: 'slice', start: 9990, end: 9999 })
    expect(bytes({ range: 'bytes=0-9, 10-19' })).toEqual({ kind: 'slice', start: 0, end: 19 })
  })

  it('no byte for a 416 or a 304 (validators first, RFC 9110 §13.2.2)', () => {
    expect(bytes({ range: `bytes=${LENGTH}-` })).toEqual({ kind: 'none' })
    expect(bytes({ range: 'bytes=0-9', 'if-none-match': '"v1"' })).toEqual({ kind: 'none' })
    expect(bytes({ range: 'bytes=0-9', 'if-modified-since': LM })).toEqual({ kind: 'none' })
    expect(bytes({ range: 'bytes=0-9', 'if-none-match': '"v2"' })).toEqual({ kind: 'slice', start: 0, end: 9 })
  })

  it('the whole entry when the answer is the 200, or when it is not fresh (stale and revalidation need the body)', () => {
    expect(bytes({ range: 'bytes=0-9, 20-29' })).toEqual({ kind: 'whole' })
    expect(bytes({ range: 'items=0-9' })).toEqual({ kind: 'whole' })
    expect(bytes({ range: 'bytes=0-9', 'if-range': '"other"' })).toEqual({ kind: 'whole' })
    expect(bytes({ range: 'bytes=0-9', 'if-range': '"v1"' })).toEqual({ kind: 'slice', start: 0, end: 9 })
    expect(bytes({ range: 'bytes=0-9' }, meta, meta.freshUntil)).toEqual({ kind: 'whole' })
    expect(bytes({ range: 'bytes=0-9' }, makeEntry('example.com/clip', { status: 404 }))).toEqual({ kind: 'whole' })
  })
})
