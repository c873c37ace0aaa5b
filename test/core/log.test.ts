import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ServerResponse } from 'node:http'
import { ChunkedDestination, chunkBytesFor, hundredths, makeLogger, writeAccessLine } from '../../src/core/log.js'
import { Trace } from '../../src/core/trace.js'

function target (): { chunks: string[], write: (chunk: Buffer) => void } {
  const chunks: string[] = []
  return { chunks, write: (chunk) => { chunks.push(chunk.toString()) } }
}

describe('ChunkedDestination', () => {
  afterEach(() => { vi.useRealTimers() })

  it('writes a quiet process\'s lines after flushMs', () => {
    vi.useFakeTimers()
    const t = target()
    const dest = new ChunkedDestination(t, { flushMs: 250 })
    dest.write('warn\n')
    vi.advanceTimersByTime(249)
    expect(t.chunks).toEqual([])
    vi.advanceTimersByTime(1)
    expect(t.chunks).toEqual(['warn\n'])
  })

  it('holds lines until a chunk is full, then writes them as one chunk, in order', () => {
    const t = target()
    const dest = new ChunkedDestination(t, { maxBytes: 10 })
    dest.write('aaaa\n')
    expect(t.chunks).toEqual([])
    dest.write('bbbb\n')
    dest.write('cc\n')
    expect(t.chunks).toEqual(['aaaa\nbbbb\n'])
    dest.flushSync()
    expect(t.chunks).toEqual(['aaaa\nbbbb\n', 'cc\n'])
  })

  it('never writes more than maxBytes in one write unless a single line is longer, and cuts only at line ends', () => {
    const t = target()
    const dest = new ChunkedDestination(t, { maxBytes: 12 })
    dest.write('aaaaaaa\n') // 8
    dest.write('bbbbbbb\n') // would make 16: the 8 held go first
    dest.write('é€é€é\n') // 6 characters, 13 bytes: longer than maxBytes on its own
    dest.write('c\n')
    dest.flushSync()
    expect(t.chunks).toEqual(['aaaaaaa\n', 'bbbbbbb\n', 'é€é€é\n', 'c\n'])
    for (const chunk of t.chunks) expect(chunk.endsWith('\n')).toBe(true)
  })

  it('splits a chunk that multi-byte characters made longer than maxBytes at line ends', () => {
    const t = target()
    const dest = new ChunkedDestination(t, { maxBytes: 12 })
    dest.write('éé\n') // 3 characters, 5 bytes
    dest.write('éé\n')
    dest.write('éé\n')
    dest.flushSync() // 9 characters held, 15 bytes
    expect(t.chunks).toEqual(['éé\néé\n', 'éé\n'])
  })

  it('hands over chunks a target may keep: later lines, in this slab or the next, never change them', () => {
    const kept: Buffer[] = []
    const dest = new ChunkedDestination({ write: (chunk: Buffer) => { kept.push(chunk) } }, { maxBytes: 4096 })
    const lines = Array.from({ length: 3000 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(i % 300)}"}\n`)
    for (const l of lines) dest.write(l)
    dest.write(`{"long":"${'y'.repeat(300_000)}"}\n`) // longer than a slab: a slab of its own
    dest.write('{"last":true}\n')
    dest.flushSync()
    // 3000 lines of about 170 bytes fill two slabs of 256 KiB: the chunks of the first are read only now.
    expect(kept.length).toBeGreaterThan(100)
    for (const chunk of kept) expect(chunk.length <= 4096 || chunk.toString().split('\n').length === 2).toBe(true)
    expect(Buffer.concat(kept).toString()).toBe(lines.join('') + `{"long":"${'y'.repeat(300_000)}"}\n` + '{"last":true}\n')
  })

  it('writes what it holds on flush, then calls back; an empty flush writes nothing', () => {
    const t = target()
    const dest = new ChunkedDestination(t)
    dest.write('one\n')
    let called = 0
    dest.flush(() => { called++ })
    dest.flush()
    expect(t.chunks).toEqual(['one\n'])
    expect(called).toBe(1)
  })
})

describe('hundredths', () => {
  it.each([[0, '0.00'], [0.004, '0.00'], [0.005, '0.01'], [0.0712, '0.07'], [1, '1.00'], [12.3, '12.30'], [999.999, '1000.00'], [1234567.891, '1234567.89']])(
    'writes %s ms as %s, JSON for the value rounded to hundredths', (ms, text) => {
      expect(hundredths(ms)).toBe(text)
      expect(JSON.parse(text)).toBe(Math.round(ms * 100) / 100)
    })
})

describe('chunkBytesFor', () => {
  const kind = (fifo: boolean, socket: boolean): { isFIFO (): boolean, isSocket (): boolean } => ({ isFIFO: () => fifo, isSocket: () => socket })
  it('keeps a pipe\'s or a socket\'s chunks to PIPE_BUF, so workers sharing stdout never cut into each other', () => {
    expect(chunkBytesFor(kind(true, false))).toBe(4096)
    expect(chunkBytesFor(kind(false, true))).toBe(4096)
    expect(chunkBytesFor(null)).toBe(4096)
  })
  it('writes larger chunks to a file or a terminal', () => {
    expect(chunkBytesFor(kind(false, false))).toBe(32 * 1024)
  })
})

describe('writeAccessLine', () => {
  it('follows the logger\'s level as a reload sets it: no access lines under warn, lines again at info', () => {
    const lines: string[] = []
    const logger = makeLogger('info', { write (line: string) { lines.push(line) } })
    const res = { statusCode: 200, writableEnded: true, req: { method: 'GET', url: '/a', headers: {}, socket: { remoteAddress: '127.0.0.1' } } } as unknown as ServerResponse
    const trace = Object.assign(new Trace(0, { finish () {} }), { xCache: 'HIT' as const, bytes: 1 })
    writeAccessLine(logger, trace, res, 0.1, false)
    logger.level = 'warn'
    writeAccessLine(logger, trace, res, 0.1, false)
    logger.level = 'info'
    writeAccessLine(logger, trace, res, 0.1, false)
    expect(lines.map((line) => (JSON.parse(line) as { url: string }).url)).toEqual(['/a', '/a'])
  })
})
