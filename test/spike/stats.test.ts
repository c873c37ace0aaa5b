import { describe, expect, it } from 'vitest'
import { makeMix, makePicker } from '../../src/spike/mix.js'
import { cacheObject, errorRate, hitRatio, LatencyHistogram, makeTally, Recorder, recordResponse } from '../../src/spike/stats.js'
import { describeThreshold, evaluateThresholds } from '../../src/spike/thresholds.js'
import { makeGeneratorReport } from '../../src/spike/result.js'
import { makeFleetMetrics, subtractCounts, sumMetric, sumMetricBy } from '../../src/spike/metrics.js'

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

  it('counts seconds from each stage\'s start, so no second mixes two stages', () => {
    const r = new Recorder(10_000)
    r.beginStage('a', 10_000)
    r.response(10_100, 0, 200, 1, 'HIT')
    r.response(11_100, 0, 200, 1, 'HIT')
    // Stage b starts 1.3 s into the run: its first second runs 1.3–2.3 s, its marker sits at 1.3 s.
    r.beginStage('b', 11_300)
    r.response(11_400, 1, 200, 1, 'MISS')
    r.response(12_500, 1, 200, 1, 'MISS')
    r.error(12_600, 1)
    expect(r.seconds.map((s) => [s.t, s.stage, s.second, s.tally.responses, s.tally.errors])).toEqual([
      [0, 'a', 0, 1, 0], [1, 'a', 1, 1, 0], [1.3, 'b', 0, 1, 0], [2.3, 'b', 1, 1, 1]
    ])
    expect([...r.stagePaths()].map(([label, t]) => [label, t.responses, t.errors])).toEqual([[1, 2, 1]])
  })

  it('hitRatio is (HIT + STALE) / responses', () => {
    const t = makeTally()
    recordResponse(t, 200, 1, 'HIT')
    recordResponse(t, 200, 1, 'STALE')
    recordResponse(t, 200, 1, 'MISS')
    recordResponse(t, 200, 1, 'PASS')
    expect(hitRatio(t)).toBe(0.5)
    expect(hitRatio(makeTally())).toBeUndefined()
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

describe('evaluateThresholds on the origin and the cache', () => {
  const figures = { rps: 50, p99Ms: 1, p999Ms: 1, errorRate: 0, hitRatio: 0.8, originRequests: 120, originRps: 12 }

  it('checks maxOriginRps, maxOriginRequests and minHitRatio', () => {
    expect(evaluateThresholds('spike', { maxOriginRps: 10, maxOriginRequests: 200, minHitRatio: 0.9 }, figures, 'final').map((r) => [r.key, r.value, r.ok])).toEqual([
      ['maxOriginRps', 12, false], ['maxOriginRequests', 120, true], ['minHitRatio', 0.8, false]
    ])
  })

  it('skips an origin figure not yet known while live, and fails it at the end', () => {
    const unknown = { rps: 50, p99Ms: 1, p999Ms: 1, errorRate: 0 }
    expect(evaluateThresholds('s', { maxOriginRps: 10, minHitRatio: 0.5 }, unknown, 'live')).toEqual([])
    const final = evaluateThresholds('s', { maxOriginRps: 10 }, unknown, 'final')
    expect(final).toEqual([{ name: 's.maxOriginRps', stage: 's', key: 'maxOriginRps', limit: 10, value: null, ok: false }])
    expect(describeThreshold(final[0]!)).toBe('s.maxOriginRps not measured: no origin figure from --admin')
  })

  it('names the second of a breach', () => {
    const [r] = evaluateThresholds('spike', { minHitRatio: 0.9 }, figures, 'live')
    expect(describeThreshold({ ...r!, stageSecond: 3, t: 7.2 })).toBe('spike.minHitRatio 0.8 < 0.9 (second 3 of spike)')
  })
})

describe('origin counts by reason', () => {
  const text = [
    'corral_origin_requests_total{reason="miss"} 12',
    'corral_origin_requests_total{reason="refresh"} 3',
    'corral_origin_requests_total{reason="pass"} 1',
    'corral_origin_requests_total_created{reason="miss"} 1700000000'
  ].join('\n')

  it('splits a counter by one label', () => {
    expect(sumMetricBy(text, 'corral_origin_requests_total', 'reason')).toEqual({ miss: 12, refresh: 3, pass: 1 })
    expect(subtractCounts({ total: 16, byReason: { miss: 12, refresh: 3, pass: 1 } }, { total: 10, byReason: { miss: 9, refresh: 1 } }))
      .toEqual({ total: 6, byReason: { miss: 3, refresh: 2, pass: 1 } })
  })

  it('sums a fleet, and is unknown when one member does not answer', async () => {
    const a = { originRequests: async () => ({ total: 5, byReason: { miss: 5 } }) }
    const b = { originRequests: async () => ({ total: 2, byReason: { miss: 1, refresh: 1 } }) }
    const down = { originRequests: async () => undefined }
    expect(await makeFleetMetrics([a, b]).originRequests()).toEqual({ total: 7, byReason: { miss: 6, refresh: 1 } })
    expect(await makeFleetMetrics([a, down]).originRequests()).toBeUndefined()
  })
})

describe('makePicker', () => {
  const requests = makeMix([
    { path: '/', method: 'GET', weight: 40, pick: 'uniform', zipfExponent: 1 },
    { path: '/a', method: 'GET', weight: 30, pick: 'uniform', zipfExponent: 1 },
    { path: '/b', method: 'POST', weight: 30, body: 'x', pick: 'uniform', zipfExponent: 1 }
  ])

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

describe('makeGeneratorReport', () => {
  const second = (generatorBusy: number) => ({ t: 0, stage: 's', second: 0, tally: makeTally(), generatorBusy })

  it('calls a stage saturated when half its seconds had the busiest load thread at 90% or more', () => {
    expect(makeGeneratorReport([second(0.95), second(0.99), second(0.5), second(0.4)], 3_000_000, 4000))
      .toEqual({ busy: 0.71, saturatedSeconds: 2, saturated: true, cpuCores: 0.75 })
    // One busy second (connection setup, a GC) is not a saturated stage.
    expect(makeGeneratorReport([second(0.95), second(0.3), second(0.2)], 0, 3000).saturated).toBe(false)
    expect(makeGeneratorReport([], 0, 0)).toEqual({ busy: 0, saturatedSeconds: 0, saturated: false, cpuCores: 0 })
  })
})

describe('LatencyHistogram on hdr-histogram-js (issue 26, item 8)', () => {
  it('holds every value within 1% from 50 µs to 30 s, and merges per-second histograms exactly', () => {
    const whole = new LatencyHistogram()
    const seconds = Array.from({ length: 10 }, () => new LatencyHistogram())
    for (let i = 0; i < 10_000; i++) {
      const ms = 0.05 * Math.pow(600_000, i / 9999)
      whole.record(ms)
      seconds[i % 10]!.record(ms)
    }
    const merged = new LatencyHistogram()
    for (const s of seconds) merged.merge(s)
    for (const p of [1, 50, 90, 99, 99.9]) {
      const exact = 0.05 * Math.pow(600_000, (Math.ceil(10_000 * p / 100) - 1) / 9999)
      expect(Math.abs(whole.percentile(p) - exact) / exact).toBeLessThan(0.01)
      expect(merged.percentile(p)).toBe(whole.percentile(p))
    }
    expect(merged.count).toBe(10_000)
    expect(merged.percentile(100)).toBe(whole.max)
  })
})

describe('stage timers (issue 26)', () => {
  it('read the tick\'s second against the planned length, never past it', async () => {
    const { stageClock } = await import('../../src/spike/cli.js')
    expect(stageClock(10, 10_000)).toBe('10s/10s')
    expect(stageClock(11, 10_000)).toBe('10s/10s')
    expect(stageClock(3, 10_000)).toBe('3s/10s')
    expect(stageClock(1, 1500)).toBe('1s/2s')
  })
})
