import memjs from 'memjs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { MemcachedStore } from '../../src/store/memcached.js'
import { bufferReads } from '../../src/store/read-buffering.js'
import { makeEntry, uniqueKey } from './records.js'

const address = inject('memcached')

/** A binary-protocol GET response (opcode 0, status 0, 4 bytes of flags) carrying `value`, for request `opaque`. */
function response (opaque: number, value: Buffer): Buffer {
  const head = Buffer.alloc(28)
  head[0] = 0x81
  head[4] = 4
  head.writeUInt32BE(4 + value.length, 8)
  head.writeUInt32BE(opaque, 12)
  return Buffer.concat([head, value])
}

interface ServerInternals {
  responseHandler (read: Buffer): void
  onResponse (seq: number, fn: (r: { val: Buffer }) => void): void
  responseBuffer: Buffer
}

describe('bufferReads: memjs parsing reads that split and join responses', () => {
  it('answers every response whole, however the bytes are cut into reads, and holds nothing once they are answered', () => {
    const values = [0, 1, 23, 24, 1000, 70_000, 300_000].map((n, i) => Buffer.alloc(n, i + 1))
    const stream = Buffer.concat(values.map((v, i) => response(i + 1, v)))
    // Cuts inside headers, inside values, and reads holding several responses.
    for (const cut of [1, 7, 25, 1024, 65_536, stream.length]) {
      const server = new memjs.Server('127.0.0.1', 1) as unknown as ServerInternals
      bufferReads({ servers: [server] } as unknown as memjs.Client)
      const got = new Map<number, Buffer>()
      values.forEach((_, i) => { server.onResponse(i + 1, (r) => { got.set(i + 1, Buffer.from(r.val)) }) })
      for (let at = 0; at < stream.length; at += cut) server.responseHandler(stream.subarray(at, at + cut))
      expect(got.size, `reads of ${cut} bytes`).toBe(values.length)
      values.forEach((v, i) => { expect(got.get(i + 1)?.equals(v), `value ${i} in reads of ${cut} bytes`).toBe(true) })
      expect(server.responseBuffer.length).toBe(0)
    }
  })

  it('parses a read that holds whole responses where it lies, without copying it', () => {
    const server = new memjs.Server('127.0.0.1', 1) as unknown as ServerInternals
    bufferReads({ servers: [server] } as unknown as memjs.Client)
    const read = Buffer.concat([response(1, Buffer.alloc(1024, 1)), response(2, Buffer.alloc(512, 2))])
    const views: Buffer[] = []
    server.onResponse(1, (r) => { views.push(r.val) })
    server.onResponse(2, (r) => { views.push(r.val) })
    server.responseHandler(read)
    expect(views.map((v) => v.buffer === read.buffer)).toEqual([true, true])
  })

  it('leaves a server of another shape alone', () => {
    const odd = { appendToBuffer: 'not a function', responseBuffer: Buffer.alloc(0) }
    bufferReads({ servers: [odd] } as unknown as memjs.Client)
    expect(odd.appendToBuffer).toBe('not a function')
  })
})

describe.skipIf(address === null)('bufferReads on a live memcached', () => {
  let store: MemcachedStore
  beforeAll(async () => {
    store = new MemcachedStore({ servers: [address as string], timeoutMs: 2000, retryDownMs: 60_000, prefix: 'rb:', maxItemBytes: 1024 * 1024 })
    await store.ready
  })
  afterAll(async () => { await store.close() })

  it('reads entries of every size back intact, read in one burst (answers sharing reads, and spread over many)', async () => {
    const sizes = [1, 100, 1000, 20_000, 70_000, 300_000, 900_000]
    const keys = sizes.map((n) => uniqueKey(`size${n}`))
    const bodies = sizes.map((n, i) => Buffer.from(Array.from({ length: n }, (_, j) => (j * 7 + i) % 256)))
    for (const [i, key] of keys.entries()) await store.set(key, makeEntry(key, { body: bodies[i] as Buffer }), 60_000)
    for (let round = 0; round < 3; round++) {
      const read = await Promise.all(keys.map(async (key) => await store.get(key)))
      read.forEach((record, i) => { expect(record?.kind === 'entry' && record.body.equals(bodies[i] as Buffer), `${sizes[i]} bytes`).toBe(true) })
    }
  })
})
