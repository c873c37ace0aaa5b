import memjs from 'memjs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { makeLeanGet } from '../../src/store/lean-get.js'

const address = inject('memcached')

/** memjs's own request builder, to compare bytes with. */
const { makeRequestBuffer } = await import('memjs/lib/memjs/utils.js' as string) as { makeRequestBuffer: (op: number, key: string, extras: string, value: string, seq: number) => Buffer }

describe('makeLeanGet: the request it writes', () => {
  it('writes the bytes memjs writes for a get, and keeps the sequence number below 2^31', () => {
    const written: Array<{ request: Buffer, seq: number }> = []
    const client = {
      seq: 41,
      perform (_key: string, request: Buffer, seq: number) { written.push({ request, seq }) }
    }
    const get = makeLeanGet(client as unknown as memjs.Client)
    get('corral:Zm9vYmFy-_', () => {})
    get('ünïcode', () => {})
    client.seq = 0x7fffffff
    get('wraps', () => {})
    client.seq = -5
    get('was negative', () => {})
    expect(written.map((w) => w.seq)).toEqual([42, 43, 1, 1])
    expect(written[0]?.request.equals(makeRequestBuffer(0, 'corral:Zm9vYmFy-_', '', '', 42))).toBe(true)
    expect(written[1]?.request.equals(makeRequestBuffer(0, 'ünïcode', '', '', 43))).toBe(true)
    expect(written[2]?.request.equals(makeRequestBuffer(0, 'wraps', '', '', 1))).toBe(true)
  })

  it('falls back to client.get when memjs has another shape', () => {
    const asked: string[] = []
    const client = { get (key: string, cb: (err: Error | null, value: Buffer | null) => void) { asked.push(key); cb(null, Buffer.from('v')) } }
    let got: Buffer | null = null
    makeLeanGet(client as unknown as memjs.Client)('k', (_err, value) => { got = value })
    expect(asked).toEqual(['k'])
    expect(String(got)).toBe('v')
  })
})

describe.skipIf(address === null)('makeLeanGet on a live memcached', () => {
  let client: memjs.Client
  beforeAll(() => {
    const [host, port] = (address as string).split(':') as [string, string]
    const options = { retries: 0, failover: false, timeout: 2, logger: { log () {} } }
    client = new memjs.Client([new memjs.Server(host, Number(port), undefined, undefined, options)], options)
  })
  afterAll(() => { client.close() })

  async function leanGet (key: string): Promise<{ err: Error | null, value: Buffer | null }> {
    return await new Promise((resolve) => { makeLeanGet(client)(key, (err, value) => { resolve({ err, value }) }) })
  }

  it('answers a value, a miss, and memcached\'s refusal as memjs does', async () => {
    const key = `lean-get:${Math.random().toString(36).slice(2)}`
    await client.set(key, Buffer.from('stored value'), { expires: 60 })
    const hit = await leanGet(key)
    expect(hit.err).toBeNull()
    expect(String(hit.value)).toBe('stored value')
    expect(await leanGet(`${key}:absent`)).toEqual({ err: null, value: null })
    // A key over 250 bytes: memcached answers with an error status, which memjs words "MemJS GET: …".
    const refused = await leanGet('k'.repeat(300))
    expect(refused.value).toBeNull()
    expect(refused.err?.message).toMatch(/^MemJS GET: /)
  })
})
