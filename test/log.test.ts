import { afterEach, describe, expect, it, vi } from 'vitest'
import { ChunkedDestination, hundredths } from '../src/log.js'

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
    const dest = new ChunkedDestination(t, { chunkChars: 10 })
    dest.write('aaaa\n')
    expect(t.chunks).toEqual([])
    dest.write('bbbb\n')
    dest.write('cc\n')
    expect(t.chunks).toEqual(['aaaa\nbbbb\n'])
    dest.flushSync()
    expect(t.chunks).toEqual(['aaaa\nbbbb\n', 'cc\n'])
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
