import { describe, expect, it } from 'vitest'
import { makeMix, makePicker, makePrng } from '../../src/spike/mix.js'
import { makeOffsetPicker, MAX_NAMED_LINES, parsePathsList, parseTemplate } from '../../src/spike/paths.js'
import { describeSaturation, worstPaths } from '../../src/spike/verdict.js'
import type { StageReport } from '../../src/spike/result.js'
import { splitSlice } from '../../src/spike/workers.js'

describe('path templates', () => {
  it('parses one {first..last} range', () => {
    expect(parseTemplate('/article/{1..5000}?ref=x')).toEqual({ prefix: '/article/', first: 1, last: 5000, suffix: '?ref=x' })
    expect(parseTemplate('/plain')).toBeUndefined()
  })

  it.each([
    ['/a/{1..2}/{3..4}', /one \{first..last\} range/],
    ['/a/{9..2}', /runs backwards/],
    ['/a/{1..2000000}', /more than 1000000 values/]
  ])('refuses %s', (path, reason) => {
    expect(parseTemplate(path)).toMatch(reason)
  })

  it('uniform pick covers the range evenly', () => {
    const pick = makeOffsetPicker(10, 'uniform', 1, makePrng(3))
    const counts = new Array<number>(10).fill(0)
    for (let i = 0; i < 50_000; i++) counts[pick()]!++
    for (const c of counts) expect(c / 50_000).toBeCloseTo(0.1, 1)
  })

  it('zipf pick makes rank 1 the most popular, rank 2 half as popular (s = 1)', () => {
    const pick = makeOffsetPicker(5000, 'zipf', 1, makePrng(3))
    const counts = new Map<number, number>()
    for (let i = 0; i < 100_000; i++) {
      const k = pick()
      counts.set(k, (counts.get(k) ?? 0) + 1)
    }
    const first = counts.get(0) ?? 0
    // H(5000) ≈ 9.09: rank 1 takes ~11% of the traffic.
    expect(first / 100_000).toBeGreaterThan(0.09)
    expect(first / 100_000).toBeLessThan(0.13)
    expect((counts.get(1) ?? 0) / first).toBeCloseTo(0.5, 1)
    // A steeper exponent concentrates more on the head.
    const steep = makeOffsetPicker(5000, 'zipf', 2, makePrng(3))
    let head = 0
    for (let i = 0; i < 10_000; i++) if (steep() === 0) head++
    expect(head / 10_000).toBeGreaterThan(0.55)
  })

  it('a template request expands to numbers in its range under one label', () => {
    const mix = makeMix([{ path: '/article/{1..5000}', pick: 'zipf', zipfExponent: 1, method: 'GET', weight: 1 }])
    const pick = makePicker(mix, 1)
    const seen = Array.from({ length: 2000 }, () => pick())
    expect(mix.labels).toEqual(['/article/{1..5000}'])
    for (const r of seen) {
      expect(r.label).toBe(0)
      const n = Number(/^\/article\/(\d+)$/.exec(r.path)?.[1])
      expect(n).toBeGreaterThanOrEqual(1)
      expect(n).toBeLessThanOrEqual(5000)
    }
    expect(seen.filter((r) => r.path === '/article/1').length).toBeGreaterThan(seen.filter((r) => r.path === '/article/2').length)
  })
})

describe('pathsFile', () => {
  it('reads one path per line, skipping blanks and comments', () => {
    expect(parsePathsList('# from access.log\n/a\n\n/b?x=1\r\n/a\n')).toEqual({ paths: ['/a', '/b?x=1', '/a'] })
    expect(parsePathsList('/a\nb\n')).toEqual({ line: 2, reason: 'must start with "/"' })
    expect(parsePathsList('# nothing\n')).toEqual({ line: 0, reason: 'holds no paths' })
  })

  it('replays lines in proportion to how often they appear, each its own label', () => {
    const mix = makeMix([{ pathsFile: 'log.txt', paths: ['/a', '/a', '/a', '/b'], pick: 'uniform', zipfExponent: 1, method: 'GET', weight: 1 }])
    const pick = makePicker(mix, 9)
    const seq = Array.from({ length: 20_000 }, () => pick())
    expect(seq.filter((r) => r.path === '/a').length / seq.length).toBeCloseTo(0.75, 1)
    expect(mix.labels).toEqual(['/a', '/b'])
    expect(new Set(seq.map((r) => mix.labels[r.label]))).toEqual(new Set(['/a', '/b']))
  })

  it('keeps the most frequent lines by name and the rest as one row', () => {
    const paths = Array.from({ length: MAX_NAMED_LINES + 50 }, (_, i) => `/p${i}`)
    const mix = makeMix([{ pathsFile: 'log.txt', paths, pick: 'uniform', zipfExponent: 1, method: 'GET', weight: 1 }])
    expect(mix.labels).toHaveLength(MAX_NAMED_LINES + 1)
    expect(mix.labels.at(-1)).toBe('log.txt (other paths)')
  })
})

describe('worstPaths', () => {
  const row = (path: string, errorRate: number, p99Ms: number) => ({ path, requests: 10, statuses: errorRate > 0 ? { 200: 5, 503: 5 } : { 200: 10 }, cache: {}, p99Ms, errors: 0, errorRate })
  it('ranks failures before slowness and names three', () => {
    const worst = worstPaths([row('/fast', 0, 1), row('/slow', 0, 900), row('/failing', 0.5, 2), row('/mid', 0, 50)])
    expect(worst.map((w) => w.path)).toEqual(['/failing', '/slow', '/mid'])
    expect(worst[0]!.why).toBe('p99 2 ms, 10 responses, 5 5xx, error rate 0.5')
  })
})

describe('splitSlice', () => {
  it('shares connections and rate among threads', () => {
    expect(splitSlice({ connections: 10, durationMs: 1000 }, 3)).toEqual([
      { connections: 3, durationMs: 1000 }, { connections: 3, durationMs: 1000 }, { connections: 4, durationMs: 1000 }
    ])
    const rated = splitSlice({ connections: 4, rate: 101, durationMs: 500 }, 2)
    expect(rated.map((s) => [s.connections, s.rate])).toEqual([[2, 51], [2, 50]])
    expect(splitSlice({ connections: 1, durationMs: 1000 }, 4)).toHaveLength(1)
  })
})

describe('describeSaturation', () => {
  const stage = (busy: number, cpuCores: number) => ({ name: 'spike', generator: { busy, saturatedSeconds: 3, saturated: true, cpuCores } }) as unknown as StageReport
  it('tells a thread that used its core from one that waited for a CPU', () => {
    expect(describeSaturation(stage(0.95, 0.93))).toMatch(/busiest thread 95% busy, harness CPU 0.93 cores\): .*run with more --workers$/)
    expect(describeSaturation(stage(0.93, 0.17))).toMatch(/the machine is short of CPU, so run the harness on another one$/)
  })
})
