import { describe, expect, it } from 'vitest'
import { pickWeighted } from '../../src/origin/balance.js'

function picks (weights: number[], n: number): number[] {
  const scores = new Float64Array(weights.length)
  return Array.from({ length: n }, () => pickWeighted(scores, weights))
}

describe('smooth weighted round robin', () => {
  it('rotates over equal weights', () => {
    expect(picks([1, 1, 1], 6)).toEqual([0, 1, 2, 0, 1, 2])
  })

  it('gives each server its weight\'s share, spread out rather than in bursts (nginx: a a b a c a a)', () => {
    expect(picks([5, 1, 1], 7)).toEqual([0, 0, 1, 0, 2, 0, 0])
    const counts = [0, 0]
    for (const i of picks([3, 1], 400)) counts[i] = (counts[i] as number) + 1
    expect(counts).toEqual([300, 100])
  })

  it('skips servers of weight 0 (down, ejected, tried) and answers -1 when none is left', () => {
    expect(picks([0, 2, 0], 3)).toEqual([1, 1, 1])
    expect(picks([0, 0], 1)).toEqual([-1])
  })
})
