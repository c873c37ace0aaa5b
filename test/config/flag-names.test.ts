import { describe, expect, it } from 'vitest'
import { checkFlagNames } from '../../src/config/flag-names.js'
import { parseConfig } from '../../src/config/load.js'
import { problemsOf } from '../../src/config/schema-errors.js'
import { ConfigError } from '../../src/core/errors.js'
import type { Config } from '../../src/config/types.js'

const ORIGIN = { url: 'http://127.0.0.1:3000' }
const BUILT_INS = ['cacheOnly', 'shedPercent', 'adaptiveConcurrency', 'trace']

function configWith (flags: Config['flags'], routes: Array<{ match: string, flag?: string }> = []): Config {
  return { flags, routes } as unknown as Config
}

function problems (config: unknown): ReturnType<typeof problemsOf> {
  try {
    parseConfig(JSON.stringify(config))
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return problemsOf(err as ConfigError)
  }
  throw new Error('expected the config to be refused')
}

describe('flag names (issue 26, friction 1)', () => {
  it('refuses a misspelt built-in flag with a did-you-mean, as it does an unknown key', () => {
    expect(problems({ origin: ORIGIN, flags: { shedPrecent: 50 } })).toEqual([
      { keyPath: 'flags.shedPrecent', reason: 'unknown flag; did you mean "shedPercent"?' }
    ])
    expect(problems({ origin: ORIGIN, flags: { cacheonly: true } })[0]?.reason).toBe('unknown flag; did you mean "cacheOnly"?')
  })

  it('refuses a flag one letter off a route switch that the routes name', () => {
    const report = checkFlagNames(configWith({ comments: true, coments: false }, [{ match: '/c', flag: 'comments' }]), BUILT_INS)
    expect(report.problems).toEqual([{ keyPath: 'flags.coments', reason: 'unknown flag; did you mean "comments"?' }])
  })

  it('refuses a route naming an undefined flag, with the closest defined one', () => {
    const [problem] = problems({ origin: ORIGIN, flags: { comments: true }, routes: [{ match: '/c', flag: 'coments' }, { match: '/d', flag: 'comments' }] })
    expect(problem).toEqual({ keyPath: 'routes[0].flag', reason: '"coments" must name a boolean flag in flags, and none is defined by that name; did you mean "comments"?' })
  })

  it('warns, without refusing, about a defined flag that nothing reads', () => {
    const loaded = parseConfig(JSON.stringify({ origin: ORIGIN, flags: { checkoutV2: true, beta: true }, routes: [{ match: '/beta/', flag: 'beta' }] }))
    expect(loaded.warnings).toEqual([{ keyPath: 'flags.checkoutV2', reason: expect.stringMatching(/^no route names this flag/) as unknown as string }])
  })

  it('accepts built-ins and route switches in use without a word', () => {
    const report = checkFlagNames(configWith({ shedPercent: 10, cacheOnly: false, beta: true }, [{ match: '/b', flag: 'beta' }]), BUILT_INS)
    expect(report).toEqual({ problems: [], warnings: [] })
  })
})
