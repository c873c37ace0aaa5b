import { describe, expect, it } from 'vitest'
import { parseDictionary } from '../../src/policy/structured.js'

describe('RFC 8941 §4.2.2 Structured Field Dictionary', () => {
  it('§3.2: bare keys are Boolean true, members carry integers, strings, tokens, decimals and parameters', () => {
    const d = parseDictionary('max-age=60, no-store, a="x,y", t=tok/en:1, d=1.25, p;q=2, f=?0')
    expect(d).not.toBeNull()
    expect(d?.get('max-age')).toEqual({ kind: 'item', item: { kind: 'integer', value: 60 }, params: new Map() })
    expect(d?.get('no-store')).toEqual({ kind: 'item', item: { kind: 'boolean', value: true }, params: new Map() })
    expect(d?.get('a')).toMatchObject({ item: { kind: 'string', value: 'x,y' } })
    expect(d?.get('t')).toMatchObject({ item: { kind: 'token', value: 'tok/en:1' } })
    expect(d?.get('d')).toMatchObject({ item: { kind: 'decimal', value: 1.25 } })
    expect(d?.get('p')).toMatchObject({ params: new Map([['q', { kind: 'integer', value: 2 }]]) })
    expect(d?.get('f')).toMatchObject({ item: { kind: 'boolean', value: false } })
  })

  it('§3.1.1: inner lists and byte sequences parse', () => {
    const d = parseDictionary('l=(1 "a" b);x, bin=:aGk=:')
    expect(d?.get('l')).toMatchObject({ kind: 'inner-list', items: [{ item: { value: 1 } }, { item: { value: 'a' } }, { item: { value: 'b' } }] })
    expect(d?.get('bin')).toMatchObject({ item: { kind: 'binary', value: 'aGk=' } })
  })

  it('§4.2: several field lines are one dictionary; a repeated key keeps its last value', () => {
    expect(parseDictionary(['max-age=1', 'max-age=2'])?.get('max-age')).toMatchObject({ item: { value: 2 } })
  })

  it.each([
    'Max-Age=60', 'max-age=60,', 'max-age=60 public', 'a="unterminated', 'a=1.2345', 'a=1234567890123456',
    'a=?2', ',a', 'a=(1 2', 'a=\u00e9', 'a="\u00e9"', 'a="\\x"'
  ])('§4.2: %j fails the whole field', (text) => {
    expect(parseDictionary(text)).toBeNull()
  })

  it('allows OWS around commas and leading spaces', () => {
    expect([...(parseDictionary('  a=1 ,\tb') ?? new Map()).keys()]).toEqual(['a', 'b'])
  })
})
