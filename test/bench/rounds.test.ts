import { describe, expect, it } from 'vitest'
import { countingMedian, generatorCapacity, isSaturated, median, pairedRatio, roundOrder, SATURATED_SHARE } from '../../bench/rounds.js'
import { ratioText, ratioVerdict, type Measured, type Round } from '../../bench/throughput.js'

describe('generatorCapacity', () => {
  it('is one core per thread, no more than the cores allowed, at least one', () => {
    expect(generatorCapacity(1, 2)).toBe(1)
    expect(generatorCapacity(2, 2)).toBe(2)
    expect(generatorCapacity(2, 1)).toBe(1) // pinned: two workers share one core
    expect(generatorCapacity(0, 2)).toBe(1)
  })
})

describe('isSaturated', () => {
  it('marks autocannon at 0.94-0.98 of its one core, the readings that made section 1 read 1.00', () => {
    expect(isSaturated(0.94, 1)).toBe(true)
    expect(isSaturated(0.98, 1)).toBe(true)
  })

  it('counts a generator with CPU to spare, and scales with the cores it may use', () => {
    expect(isSaturated(0.45, 1)).toBe(false)
    expect(isSaturated(SATURATED_SHARE - 0.01, 1)).toBe(false)
    expect(isSaturated(1.2, 2)).toBe(false)
    expect(isSaturated(1.85, 2)).toBe(true)
  })

  it('counts a round whose generator CPU could not be read', () => {
    expect(isSaturated(NaN, 1)).toBe(false)
  })
})

describe('median and countingMedian', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
  })

  it('is NaN with no values, so a ratio built on it reads n/a', () => {
    expect(median([])).toBeNaN()
    expect(countingMedian([1, 2], [false, false])).toBeNaN()
  })

  it('uses only the rounds that counted', () => {
    expect(countingMedian([10, 99, 12, 11], [true, false, true, true])).toBe(11)
  })
})

function round (rps: number, counted: boolean): Round {
  return {
    durationS: 5,
    rps,
    requests: rps * 5,
    p50Ms: 1,
    p99Ms: 2,
    maxMs: 3,
    non2xx: 0,
    errors: 0,
    generatorCpuS: counted ? 2 : 4.8,
    generatorMaxCores: 1,
    serverCpuS: 5,
    serverCores: 1,
    perCpuS: rps,
    loadgenCores: counted ? 0.4 : 0.96,
    counted
  }
}

function measured (rounds: Round[]): Measured {
  const counted = rounds.map((x) => x.counted)
  return {
    name: 'x',
    rounds,
    countedRounds: counted.filter(Boolean).length,
    medianRps: countingMedian(rounds.map((x) => x.rps), counted),
    medianPerCpuS: countingMedian(rounds.map((x) => x.perCpuS), counted),
    child: { url: 'http://127.0.0.1:1', pid: -1, process: undefined as never, stop: async () => {} }
  }
}

describe('ratioText and ratioVerdict', () => {
  it('prints the median of the rounds\' ratios, each round, and the ratio of medians beside, when every round counted', () => {
    const num = measured([round(90, true), round(88, true), round(92, true)])
    const den = measured([round(100, true), round(100, true), round(100, true)])
    expect(ratioText(num, den)).toBe('0.90 (rounds 0.90 0.88 0.92; ratio of medians 0.90)')
    expect(ratioVerdict(0.9, 0.85, num, den)).toBe('ok')
  })

  it('brackets a pair with a saturated side, leaves it out of the median and says how many rounds counted', () => {
    const num = measured([round(90, true), round(100, false), round(86, true)])
    const den = measured([round(100, true), round(100, true), round(100, true)])
    expect(ratioText(num, den)).toBe('0.88 (rounds 0.90 [1.00] 0.86; counted 2/3 and 3/3; ratio of medians 0.88)')
    expect(ratioVerdict(num.medianRps / den.medianRps, 0.85, num, den)).toBe('ok')
  })

  it('is void, not a verdict, when no round of one side counted', () => {
    const num = measured([round(100, false)])
    const den = measured([round(100, true)])
    expect(ratioText(num, den)).toBe('n/a (generator saturated)')
    expect(ratioVerdict(num.medianRps / den.medianRps, 0.85, num, den)).toBe('void')
  })
})

describe('pairedRatio and roundOrder', () => {
  it('is the median of the rounds\' ratios, so a slow minute that hit both sides cancels', () => {
    // Round 2 ran while another process took a core: both sides lost half, the ratio held.
    const num = [95, 48, 96]
    const den = [100, 50, 100]
    expect(pairedRatio(num, [true, true, true], den, [true, true, true])).toBeCloseTo(0.96, 5)
    // The ratio of the medians says 0.95: the pairing is what the median of ratios adds.
    expect(median(num) / median(den)).toBeCloseTo(0.95, 5)
  })

  it('leaves out a round either side did not count, and is NaN when none is left', () => {
    expect(pairedRatio([90, 10, 80], [true, true, true], [100, 100, 100], [true, false, true])).toBeCloseTo(0.85, 5)
    expect(pairedRatio([90], [false], [100], [true])).toBeNaN()
  })

  it('starts each round with the next contender, every contender once per round', () => {
    expect(roundOrder(3, 0)).toEqual([0, 1, 2])
    expect(roundOrder(3, 1)).toEqual([1, 2, 0])
    expect(roundOrder(3, 4)).toEqual([1, 2, 0])
  })
})
