import { describe, expect, it } from 'vitest'
import { accessSummary, foldAccessLine } from '../../src/core/pretty-log.js'

describe('pretty logs: one line per access entry (issue 26, friction 7)', () => {
  it('folds an access entry into one summary message', () => {
    const line = '{"level":30,"time":"2026-12-06T18:00:00.000Z","pid":7,"method":"GET","url":"/a?b=1","status":200,"cache":"MISS","bytes":12,"ms":3.5,"client":"127.0.0.1","host":"news.test","originStatus":200,"originMs":2.25,"msg":"access"}\n'
    const folded = JSON.parse(foldAccessLine(line)) as Record<string, unknown>
    expect(folded).toEqual({ level: 30, time: '2026-12-06T18:00:00.000Z', pid: 7, msg: 'GET /a?b=1 200 MISS 3.5ms  origin 200 2.25ms  12B' })
  })

  it('keeps the trace fields, when the trace flag adds them, as key=value', () => {
    expect(accessSummary({ method: 'GET', url: '/', status: 503, cache: 'SHED', ms: 0.1, shed: 'route-off', key: 'h/', route: '/x', tier: 'memory' }))
      .toBe('GET / 503 SHED 0.1ms  shed route-off  key=h/  route=/x  tier=memory')
  })

  it('leaves every other line as it is', () => {
    const line = '{"level":30,"time":"t","pid":7,"port":8080,"msg":"listening"}\n'
    expect(foldAccessLine(line)).toBe(line)
    expect(foldAccessLine('not json "msg":"access"')).toBe('not json "msg":"access"')
  })
})
