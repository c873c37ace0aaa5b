import { describe, expect, it } from 'vitest'
import { shortUrl, summarizeProfile, type CpuProfile } from '../../bench/profile-summary.js'

function frame (id: number, functionName: string, url = '', children: number[] = []): CpuProfile['nodes'][number] {
  return { id, callFrame: { functionName, url, lineNumber: 9 }, children }
}

/**
 * root → handle → deliver → writev, and root → (idle), (garbage collector); handle also recurses into itself once.
 * timeDeltas[i] is the time before sample i, so sample i is charged timeDeltas[i + 1].
 */
const profile: CpuProfile = {
  nodes: [
    frame(1, '(root)', '', [2, 5, 6]),
    frame(2, 'handle', 'file:///app/dist/pipeline.js', [3, 7]),
    frame(3, 'deliver', 'file:///app/dist/deliver.js', [4]),
    frame(4, 'writev'),
    frame(5, '(idle)'),
    frame(6, '(garbage collector)'),
    frame(7, 'handle', 'file:///app/dist/pipeline.js')
  ],
  samples: [4, 4, 3, 2, 5, 6, 7, 5],
  timeDeltas: [0, 10, 20, 30, 40, 1000, 50, 60]
}

describe('summarizeProfile', () => {
  it('charges each sample the time until the next, per request, leaving idle out', () => {
    const s = summarizeProfile(profile, 10)
    // writev 10 + 20, deliver 30, handle 40 + 60 (its recursive call), gc 50; idle 1000 and the last sample's 0 left out.
    expect(s.busyUs).toBe(21)
    expect(s.gcUs).toBe(5)
    const by = Object.fromEntries(s.bySelf.map((f) => [f.frame, f]))
    expect(by['writev']).toEqual({ frame: 'writev', selfUs: 3, totalUs: 3 })
    expect(by['deliver dist/deliver.js:10']).toEqual({ frame: 'deliver dist/deliver.js:10', selfUs: 3, totalUs: 6 })
    // A frame on the stack twice counts once per sample.
    expect(by['handle dist/pipeline.js:10']).toEqual({ frame: 'handle dist/pipeline.js:10', selfUs: 10, totalUs: 16 })
    expect(s.bySelf[0]?.frame).toBe('handle dist/pipeline.js:10')
    expect(s.byTotal.map((f) => f.frame).slice(0, 2)).toEqual(['handle dist/pipeline.js:10', 'deliver dist/deliver.js:10'])
    expect(summarizeProfile(profile, 10, 2).bySelf).toHaveLength(2)
  })

  it('shortens file URLs to the package or the project folder', () => {
    expect(shortUrl('file:///w/node_modules/pino/lib/proto.js')).toBe('pino/lib/proto.js')
    expect(shortUrl('file:///w/corral/dist/core/log.js')).toBe('dist/core/log.js')
    expect(shortUrl('node:internal/streams/writable')).toBe('node:internal/streams/writable')
  })
})
