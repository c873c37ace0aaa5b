import type memjs from 'memjs'

/** memcached's answer to one get: the value, null for a miss. */
export type LeanGet = (key: string, done: (err: Error | null, value: Buffer | null) => void) => void

interface Response {
  readonly header: { readonly status: number }
  readonly val: Buffer
}

interface MemjsClient {
  seq: number
  perform: (key: string, request: Buffer, seq: number, callback: (err: Error | null, response: Response | null) => void) => void
}

/** Binary protocol: request magic, the GET opcode, the header's size. */
const REQUEST = 0x80
const GET = 0x00
const HEADER_BYTES = 24
const STATUS_OK = 0x00
const STATUS_NOT_FOUND = 0x01
/** Sequence numbers (the request's opaque field) stay below 2^31: see below. */
const MAX_SEQ = 0x7fffffff

/**
 * A get of `client` whose request is one allocation. memjs builds each request from five buffers (the key, two empty
 * ones for extras and value, a zero-filled header and a zero-filled request that they are copied into): 17% of a
 * get's CPU with 64 gets in one turn (--cpu-prof of bench/micro-memcached.ts). The rest is memjs's own
 * (Client.perform: the server, its callbacks, the answer), so a get answers exactly as `client.get` does, down to
 * its error message ("MemJS GET: …", which memcached-nodes.ts reads as an answer, not a failed node).
 *
 * memjs wraps its sequence number with `&= 0xffffffff`, which turns it negative after 2^31 operations on one client,
 * and writing a negative opaque then throws on every request of that client: here it wraps below 2^31 instead.
 * This reaches into memjs's Client (seq, perform); if those ever change shape, `client.get` is used as it is.
 */
export function makeLeanGet (client: memjs.Client): LeanGet {
  const c = client as unknown as Partial<MemjsClient>
  const perform = c.perform
  if (typeof perform !== 'function' || typeof c.seq !== 'number') {
    return (key, done) => { client.get(key, (err, value) => { done(err, value) }) }
  }
  const memjsClient = c as MemjsClient
  return (key, done) => {
    const seq = memjsClient.seq = memjsClient.seq >= MAX_SEQ || memjsClient.seq < 0 ? 1 : memjsClient.seq + 1
    const keyBytes = Buffer.byteLength(key)
    const request = Buffer.allocUnsafe(HEADER_BYTES + keyBytes)
    request[0] = REQUEST
    request[1] = GET
    request.writeUInt16BE(keyBytes, 2)
    // Extras length, data type, vbucket; then the body length (the key alone), the opaque and a zero CAS.
    request.writeUInt32BE(0, 4)
    request.writeUInt32BE(keyBytes, 8)
    request.writeUInt32BE(seq, 12)
    request.writeUInt32BE(0, 16)
    request.writeUInt32BE(0, 20)
    request.write(key, HEADER_BYTES, 'utf8')
    perform.call(memjsClient, key, request, seq, (err, response) => {
      if (err !== null || response === null) {
        done(err ?? new Error('memcached get: no response'), null)
        return
      }
      const status = response.header.status
      if (status === STATUS_OK) done(null, response.val)
      else if (status === STATUS_NOT_FOUND) done(null, null)
      else done(new Error(`MemJS GET: status 0x${status.toString(16)}`), null)
    })
  }
}
