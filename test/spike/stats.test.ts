import { describe, expect, it } from 'vitest'
import { makePicker } from '../../src/spike/run.js'
import { cacheObject, errorRate, LatencyHistogram, makeTally, Recorder, recordResponse } from '../../src/spike/stats.js'
import { evaluateThresholds } from '../../src/spike/thresholds.js'
import { sumMetric } from '../../src/spike/metrics.js'

describe('LatencyHistogram', () => {
  it('gives percentiles within 1% of the exact values', () => {
    const h = new LatencyHistogram()
    for (let i = 1; i <= 10_000; i++) h.record(i / 10)
    expect(h.percentile(50)).toBeCloseTo(500, -1)
    expect(Math.abs(h.percentile(99) - 990) / 990).toBeLessThan(0.01)
    expect(Math.abs(h.percentile(99.9) - 999) / 999).toBeLessThan(0.01)
    expect(h.max).toBe(1000)
    expect(h.percentile(100)).toBe(1000)
  })

  it('merges like one histogram', () => {
    const a = new LatencyHistogram()
    const b = new LatencyHistogram()
    const all = new LatencyHistogram()
    for (let i = 0; i < 1000; i++) {
      const v = (i * 7919) % 997
      ;(i % 2 === 0 ? a : b).record(v)
      all.record(v)
    }
    a.merge(b)
    expect(a.count).toBe(1000)
    for (const p of [50, 90, 99]) expect(a.percentile(p)).toBe(all.percentile(p))
  })

  it('is 0 when empty', () => {
    expect(new LatencyHistogram().percentile(99)).toBe(0)
  })
})

describe('tallies', () => {
  it('counts X-Cache values, with NONE for a missing header', () => {
    const t = makeTally()
    recordResponse(t, 200, 1, 'HIT')
    recordResponse(t, 200, 1, 'hit')
    recordResponse(t, 200, 1, 'REVALIDATED')
    recordResponse(t, 200, 1, undefined)
    expect(cacheObject(t)).toEqual({ HIT: 2, STALE: 0, MISS: 0, PASS: 0, SHED: 0, REVALIDATED: 1, NONE: 1 })
  })

  it('errorRate counts connection errors and 5xx, not 4xx', () => {
    const t = makeTally()
    for (let i = 0; i < 6; i++) recordResponse(t, 200, 1, 'HIT')
    recordResponse(t, 404, 1, 'MISS')
    recordResponse(t, 503, 1, 'SHED')
    t.errors = 2
    expect(errorRate(t)).toBe(3 / 10)
    expect(errorRate(makeTally())).toBe(0)
  })

  it('buckets by second since the start and labels the stage', () => {
    const r = new Recorder(10_000)
    r.beginStage('a')
    r.response(10_100, 200, 1, 'HIT')
    r.beginStage('b')
    r.response(12_500, 200, 1, 'MISS')
    r.error(12_600)
    expect(r.seconds.map((s) => [s.t, s.stage, s.tally.responses, s.tally.errors])).toEqual([[0, 'a', 1, 0], [1, 'b', 0, 0], [2, 'b', 1, 1]])
  })
})

describe('evaluateThresholds', () => {
  const figures = { rps: 50, p99Ms: 120, p999Ms: 400, errorRate: 0.02 }
  const limits = { p99Ms: 100, p999Ms: 500, errorRate: 0.01, minRps: 100 }

  it('checks every set limit at the end of a stage', () => {
    expect(evaluateThresholds('spike', limits, figures, 'final')).toEqual([
      { name: 'spike.p99Ms', stage: 'spike', key: 'p99Ms', limit: 100, value: 120, ok: false },
      { name: 'spike.p999Ms', stage: 'spike', key: 'p999Ms', limit: 500, value: 400, ok: true },
      { name: 'spike.errorRate', stage: 'spike', key: 'errorRate', limit: 0.01, value: 0.02, ok: false },
      { name: 'spike.minRps', stage: 'spike', key: 'minRps', limit: 100, value: 50, ok: false }
    ])
  })

  it('leaves minRps for the end of the stage', () => {
    expect(evaluateThresholds('warm', limits, figures, 'live').map((r) => r.key)).toEqual(['p99Ms', 'p999Ms', 'errorRate'])
  })

  it('treats a value equal to the limit as holding', () => {
    expect(evaluateThresholds('s', { p99Ms: 120, minRps: 50 }, figures, 'final').every((r) => r.ok)).toBe(true)
  })

  it('checks nothing without limits', () => {
    expect(evaluateThresholds('s', {}, figures, 'final')).toEqual([])
  })
})

describe('makePicker', () => {
  const requests = [{ path: '/', method: 'GET', weight: 40 }, { path: '/a', method: 'GET', weight: 30 }, { path: '/b', method: 'POST', weight: 30, body: 'x' }]

  it('follows the weights and is the same for the same seed', () => {
    const pick = makePicker(requests, 7)
    const seq = Array.from({ length: 20_000 }, () => pick().path)
    const share = (p: string): number => seq.filter((x) => x === p).length / seq.length
    expect(share('/')).toBeCloseTo(0.4, 1)
    expect(share('/a')).toBeCloseTo(0.3, 1)
    const again = makePicker(requests, 7)
    expect(Array.from({ length: 100 }, () => again().path)).toEqual(seq.slice(0, 100))
  })
})

describe('sumMetric', () => {
  it('sums every label set of the metric and ignores look-alike names', () => {
    const text = [
      '# HELP corral_origin_requests_total Requests sent to the origin',
      '# TYPE corral_origin_requests_total counter',
      'corral_origin_requests_total{reason="miss"} 12',
      'corral_origin_requests_total{reason="refresh",route="a}b"} 3',
      'corral_origin_requests_total_created 1700000000',
      'corral_origin_errors_total{code="x"} 5'
    ].join('\n')
    expect(sumMetric(text, 'corral_origin_requests_total')).toBe(15)
    expect(sumMetric('corral_origin_requests_total 4\n', 'corral_origin_requests_total')).toBe(4)
    expect(sumMetric('', 'corral_origin_requests_total')).toBeUndefined()
  })

  it('keeps only the series whose labels contain the filter', () => {
    const text = 'corral_requests_total{cache="HIT"} 7\ncorral_requests_total{cache="MISS"} 2\ncorral_requests_total{cache="HIT",x="1"} 1\n'
    expect(sumMetric(text, 'corral_requests_total', 'cache="HIT"')).toBe(8)
    expect(sumMetric(text, 'corral_requests_total', 'cache="PASS"')).toBeUndefined()
    expect(sumMetric('corral_requests_total 5\n', 'corral_requests_total', 'cache="HIT"')).toBeUndefined()
  })
})
