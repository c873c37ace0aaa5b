import { describe, expect, it } from 'vitest'
import { DEFAULT_TAG_OPTIONS, MAX_TAGS, parseTags, splitTagList } from '../../src/purge/tags.js'

describe('parseTags', () => {
  it('reads Surrogate-Key (spaces) and Cache-Tag (commas), de-duplicated, in order', () => {
    expect(parseTags({ 'surrogate-key': 'article-123  front', 'cache-tag': 'front,section-world, amp' }, DEFAULT_TAG_OPTIONS))
      .toEqual(['article-123', 'front', 'section-world', 'amp'])
  })

  it('is undefined for a response without tags (an untagged entry carries no field)', () => {
    expect(parseTags({ 'content-type': 'text/html' }, DEFAULT_TAG_OPTIONS)).toBeUndefined()
    expect(parseTags({ 'surrogate-key': ' , ' }, DEFAULT_TAG_OPTIONS)).toBeUndefined()
  })

  it('reads only the configured headers, repeated lines included', () => {
    const options = { headers: ['x-tags'], removeFromResponse: true }
    expect(parseTags({ 'x-tags': ['a b', 'c'], 'surrogate-key': 'ignored' }, options)).toEqual(['a', 'b', 'c'])
  })

  it(`keeps at most ${MAX_TAGS} tags and drops over-long ones`, () => {
    const many = Array.from({ length: MAX_TAGS + 10 }, (_, i) => `t${i}`).join(' ')
    expect(parseTags({ 'surrogate-key': many }, DEFAULT_TAG_OPTIONS)).toHaveLength(MAX_TAGS)
    expect(parseTags({ 'surrogate-key': `${'x'.repeat(200)} ok` }, DEFAULT_TAG_OPTIONS)).toEqual(['ok'])
  })
})

describe('splitTagList', () => {
  it('accepts repeated and comma- or space-separated tags', () => {
    expect(splitTagList(['a,b', 'c d', 'a'])).toEqual(['a', 'b', 'c', 'd'])
  })
})
