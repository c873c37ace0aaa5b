import { describe, expect, it } from 'vitest'
import type { ServerResponse } from 'node:http'
import { stampBytes, writeAccessLineTo, writeHundredths, writeInteger, writeMadeRequestId, type LineSink } from '../../src/core/access-line.js'
import { ChunkedDestination } from '../../src/core/log.js'
import { identifyRequest, madeRequestId } from '../../src/core/request-id.js'
import { Trace } from '../../src/core/trace.js'
import { wallAt } from '../../src/core/clock.js'

/** A sink that keeps each committed line as text. */
function sink (): LineSink & { lines: string[] } {
  const buf = Buffer.alloc(8192)
  return {
    lines: [],
    length: 0,
    reserve (bytes: number) {
      expect(bytes).toBeLessThanOrEqual(buf.length)
      return buf
    },
    commit (end: number) { this.lines.push(buf.toString('utf8', 0, end)) }
  }
}

const noSink = { finish () {} }

interface Request { method?: string, url?: string, headers?: Record<string, string>, remoteAddress?: string | null, status?: number, ended?: boolean }

function response ({ method = 'GET', url = '/page', headers = {}, remoteAddress = '127.0.0.1', status = 200, ended = true }: Request = {}): ServerResponse {
  return { statusCode: status, writableEnded: ended, req: { method, url, headers, socket: remoteAddress === null ? null : { remoteAddress } } } as unknown as ServerResponse
}

function trace (fields: Partial<Trace> = {}): Trace {
  return Object.assign(new Trace(0, noSink), { xCache: 'HIT', bytes: 1024 }, fields)
}

function line (res: ServerResponse, t: Trace, ms = 0.07): Record<string, unknown> {
  const s = sink()
  writeAccessLineTo(s, t, res, ms)
  expect(s.lines).toHaveLength(1)
  const text = s.lines[0] as string
  expect(text.endsWith('}\n')).toBe(true)
  expect(text.indexOf('\n')).toBe(text.length - 1)
  return JSON.parse(text) as Record<string, unknown>
}

describe('writeAccessLineTo', () => {
  it('writes the fields in their fixed order, as pino\'s lines start and end', () => {
    const res = response({ headers: { host: 'example.com', 'user-agent': 'probe/1.0', referer: 'http://a.example/' } })
    const got = line(res, trace({ requestId: 'abc-1' }), 12.3)
    expect(Object.keys(got)).toEqual(['level', 'time', 'pid', 'method', 'url', 'status', 'cache', 'bytes', 'ms', 'client', 'host', 'userAgent', 'referer', 'requestId', 'msg'])
    expect(got).toMatchObject({
      level: 30,
      pid: process.pid,
      method: 'GET',
      url: '/page',
      status: 200,
      cache: 'HIT',
      bytes: 1024,
      ms: 12.3,
      client: '127.0.0.1',
      host: 'example.com',
      userAgent: 'probe/1.0',
      referer: 'http://a.example/',
      requestId: 'abc-1',
      msg: 'access'
    })
    expect(new Date(got['time'] as string).toISOString()).toBe(got['time'])
  })

  it('leaves absent values out and writes the rarer fields when set', () => {
    const res = response({ status: 502, ended: false, remoteAddress: null })
    const got = line(res, trace({ xCache: null, bytes: 0, originStatus: 503, originMs: 250.456, coalesced: true, shed: 'origin-saturated', error: 'CORRAL_ERR_ORIGIN' }))
    expect(got).toEqual({
      level: 30,
      time: got['time'],
      pid: process.pid,
      method: 'GET',
      url: '/page',
      status: 502,
      cache: 'ERROR',
      bytes: 0,
      ms: 0.07,
      originStatus: 503,
      originMs: 250.46,
      coalesced: true,
      shed: 'origin-saturated',
      error: 'CORRAL_ERR_ORIGIN',
      aborted: true,
      msg: 'access'
    })
  })

  it('escapes what JSON must escape in the URL and headers, and keeps non-ASCII text', () => {
    const url = '/a"b\\c\u0001d'
    const headers = { host: 'h"x', 'user-agent': 'naïve\tagent', referer: 'ré€' }
    const got = line(response({ url, headers }), trace())
    expect(got).toMatchObject({ url, host: 'h"x', userAgent: 'naïve\tagent', referer: 'ré€' })
  })

  it('writes each request\'s own values when they change between lines (the repeated runs are rebuilt)', () => {
    const s = sink()
    const variants: Request[] = [
      { url: '/one' }, { url: '/one' }, { url: '/two' }, { method: 'HEAD', url: '/two' }, { url: '/two', status: 304 },
      { url: '/two', headers: { host: 'a' } }, { url: '/two', headers: { host: 'b' } }, { url: '/two', headers: { host: 'b', 'user-agent': 'u' } },
      { url: '/two', remoteAddress: '::1' }, { url: '/two' }
    ]
    for (const [i, v] of variants.entries()) writeAccessLineTo(s, trace({ bytes: i % 2 === 0 ? 10 : 20, xCache: i === 4 ? 'MISS' : 'HIT' }), response(v), i)
    const got = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    for (const [i, v] of variants.entries()) {
      expect(got[i]).toMatchObject({ method: v.method ?? 'GET', url: v.url, status: v.status ?? 200, bytes: i % 2 === 0 ? 10 : 20, cache: i === 4 ? 'MISS' : 'HIT', ms: i, client: v.remoteAddress ?? '127.0.0.1' })
      expect(got[i]?.['host']).toBe(v.headers?.host)
      expect(got[i]?.['userAgent']).toBe(v.headers?.['user-agent'])
    }
  })

  it('writes each line\'s own time while the rest of the opening repeats, across milliseconds and seconds', () => {
    const s = sink()
    const offsets = [0, 0.4, 1, 1, 999, 1000, 1001, 61_000, 1]
    for (const ms of offsets) writeAccessLineTo(s, trace(), response(), ms)
    const times = s.lines.map((l) => (JSON.parse(l) as Record<string, unknown>)['time'])
    expect(times).toEqual(offsets.map((ms) => new Date(wallAt(ms)).toISOString()))
    expect(new Set(times).size).toBeGreaterThanOrEqual(6)
  })

  it('goes into a ChunkedDestination as whole lines, in order with pino\'s own', () => {
    const chunks: string[] = []
    const dest = new ChunkedDestination({ write: (chunk: Buffer) => { chunks.push(chunk.toString()) } }, { maxBytes: 600 })
    for (let i = 0; i < 10; i++) {
      writeAccessLineTo(dest, trace({ bytes: i }), response(), 1)
      if (i === 4) dest.write('{"msg":"between"}\n')
    }
    dest.flushSync()
    for (const chunk of chunks) {
      expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(600)
      expect(chunk.endsWith('\n')).toBe(true)
    }
    const lines = chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.map((l) => l['bytes'] ?? l['msg'])).toEqual([0, 1, 2, 3, 4, 'between', 5, 6, 7, 8, 9])
    expect(chunks.length).toBeGreaterThan(1)
  })
})

describe('request ids in the line', () => {
  it('writes an id made here as its string, and a client\'s as given, alternating', () => {
    const s = sink()
    const made: string[] = []
    for (let i = 0; i < 6; i++) {
      const t = trace()
      const headers: Record<string, string> = i % 3 === 2 ? { 'x-request-id': `client-${i}` } : {}
      // Every third request as with request ids off: no id at all.
      if (i % 3 !== 1) identifyRequest(t, headers)
      made.push(t.requestId ?? '')
      writeAccessLineTo(s, t, response({ headers }), 1)
      expect(t.madeId !== 0).toBe(i % 3 === 0)
    }
    const got = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    for (const [i, l] of got.entries()) expect(l['requestId']).toBe(i % 3 === 1 ? undefined : made[i])
    expect(got[2]?.['requestId']).toBe('client-2')
  })

  it.each([1, 35, 36, 1295, 1296, 1297, 1331, 46_655, 46_656, 1_679_616, 2 ** 31 - 2, 2 ** 31, 2 ** 40])('makes and writes id number %s as its base-36 text', (n) => {
    const buf = Buffer.alloc(64)
    const text = buf.toString('latin1', 0, writeMadeRequestId(buf, 0, n))
    expect(text).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/)
    expect(text.slice(text.indexOf('-') + 1)).toBe(n.toString(36))
    expect(madeRequestId(n)).toBe(text)
    // Again after another number, so a kept head from a neighbouring range is not reused.
    madeRequestId(n + 5000)
    expect(madeRequestId(n)).toBe(text)
  })
})

describe('number text', () => {
  it.each([0, 7, 10, 99, 100, 12345, 2 ** 31, 9007199254740991])('writes %s as its decimal digits', (n) => {
    const buf = Buffer.alloc(32)
    expect(buf.toString('latin1', 0, writeInteger(buf, 0, n))).toBe(String(n))
  })

  it.each([[-1, '0.00'], [Number.NaN, '0.00'], [Number.POSITIVE_INFINITY, '0.00'], [0.995, '1.00'], [5.5, '5.50']])('writes %s ms as %s', (ms, text) => {
    const buf = Buffer.alloc(32)
    expect(buf.toString('latin1', 0, writeHundredths(buf, 0, ms))).toBe(text)
  })
})

describe('stampBytes', () => {
  it('writes the level and the time as pino\'s isoTime, quoted, across milliseconds, seconds and a clock step back', () => {
    const start = Date.UTC(2026, 11, 31, 23, 59, 58, 990)
    const times = [start, start + 1, start + 9, start + 10, start + 1009, start + 1010, start + 2500, start - 86_400_000, start - 86_400_000, 0, -1]
    for (const t of times) expect(stampBytes(t).toString()).toBe(`{"level":30,"time":${JSON.stringify(new Date(t).toISOString())}`)
  })
})
