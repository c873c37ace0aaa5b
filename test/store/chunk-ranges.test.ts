import memjs from 'memjs'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ChunkedItems, type ItemIO } from '../../src/store/chunks.js'
import { ChunkRanges } from '../../src/store/chunk-ranges.js'
import { decodeHead, type ChunkHead } from '../../src/store/chunk-codec.js'
import { encodeRecord } from '../../src/store/codec.js'
import { partOf } from '../../src/store/entry-part.js'
import { makeEntry, uniqueKey } from './records.js'

const address = inject('memcached')
const CHUNK_BYTES = 10_000

describe.skipIf(address === null)('a long range read from chunks as the client takes it (real memcached)', () => {
  const client = memjs.Client.create(address as string, { retries: 0, logger: { log () {} } })
  afterAll(() => { client.close() })
  const gets: string[] = []
  const io: ItemIO = {
    set: async (_owner, itemKey, value, expires) => await client.set(itemKey, value, { expires }),
    get: async (_owner, itemKey) => {
      gets.push(itemKey)
      return (await client.get(itemKey)).value
    },
    touch: async (_owner, itemKey, expires) => await client.touch(itemKey, expires),
    drop: async (_owner, itemKey) => { await client.delete(itemKey) }
  }

  it('reads one chunk before answering, keeps two ahead of the client, and stops when it leaves', async () => {
    const key = uniqueKey('long')
    const itemKey = `t:${key.length}:${Math.random().toString(36).slice(2)}`
    const body = Buffer.alloc(200_000)
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff
    const value = encodeRecord(makeEntry(key, { body, headers: ['content-type', 'video/webm', 'content-length', String(body.length)] }))
    expect(await new ChunkedItems(io, CHUNK_BYTES).write(itemKey, value, 60_000)).toBe('stored')
    const head = decodeHead((await client.get(itemKey)).value as Buffer) as ChunkHead
    expect(head.chunkCount).toBe(21)
    gets.length = 0
    const read = await new ChunkRanges(io).read(itemKey, key, head, () => ({ kind: 'slice', start: 50_000, end: body.length - 1 }))
    expect(read.kind).toBe('part')
    const part = read.kind === 'part' ? partOf(read.entry) : undefined
    if (part === undefined || part.rest === null) throw new Error('expected a part with a rest to read')
    const firstIndex = Math.floor((value.length - body.length + 50_000) / CHUNK_BYTES)
    // The metadata (chunk 0), the range's first chunk, and two read ahead of the client.
    expect(gets.map(k => Number(k.slice(k.lastIndexOf('~') + 1)))).toEqual([0, firstIndex, firstIndex + 1, firstIndex + 2])
    const sent = [part.bytes]
    for (let i = 0; i < 3; i++) sent.push(await part.rest.next() as Buffer)
    // Each chunk taken starts the read of one more.
    expect(gets).toHaveLength(7)
    part.rest.close()
    expect(await part.rest.next()).toBeUndefined()
    expect(gets).toHaveLength(7)
    const got = Buffer.concat(sent)
    expect(got.equals(body.subarray(50_000, 50_000 + got.length))).toBe(true)
  })
})
