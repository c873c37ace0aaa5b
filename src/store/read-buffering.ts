import type memjs from 'memjs'

interface MemjsServer {
  responseBuffer?: unknown
  appendToBuffer?: (dataBuf: Buffer) => Buffer
}

/** A binary-protocol response: a 24-byte header whose bytes 8-11 give the length of the body after it. */
const HEADER_BYTES = 24

/**
 * memjs copies every read off its socket into a new zero-filled buffer the size of what it holds plus the read
 * (Server.appendToBuffer), then parses responses out of that: each read costs an allocation, a fill and two copies
 * (about a fifth of a get's CPU with 64 gets of 1 KiB in one turn, --cpu-prof of bench/micro-memcached.ts), and a
 * response spread over many reads (a 1 MiB chunk of a large entry arrives in 64 KiB reads) is copied again for each
 * of them, quadratically. Here a read that arrives with nothing held is parsed as it is, and reads that carry a
 * response in parts are joined once, when the response is whole (Buffer.concat: no fill). memjs parses and answers
 * exactly as before, from views into what was read (tiered.ts copies what L1 keeps). This reaches into memjs's
 * Server (appendToBuffer, responseBuffer); if those ever change shape it is left alone and memjs reads as before.
 */
export function bufferReads (client: memjs.Client): void {
  for (const server of (client as unknown as { servers?: MemjsServer[] }).servers ?? []) {
    if (typeof server.appendToBuffer !== 'function' || !Buffer.isBuffer(server.responseBuffer)) continue
    // Reads received after responseBuffer, not yet joined to it: the response they continue is not whole yet.
    let parts: Buffer[] = []
    let partBytes = 0
    server.appendToBuffer = function (this: MemjsServer, read: Buffer): Buffer {
      const held = this.responseBuffer as Buffer
      if (held.length === 0 && partBytes === 0) {
        this.responseBuffer = read
        return read
      }
      parts.push(read)
      partBytes += read.length
      const bytes = held.length + partBytes
      // Still short of the first response's end: memjs finds no whole response in what it holds, and waits.
      if (held.length >= HEADER_BYTES && bytes < HEADER_BYTES + held.readUInt32BE(8)) return held
      parts.unshift(held)
      const joined = Buffer.concat(parts, bytes)
      parts = []
      partBytes = 0
      this.responseBuffer = joined
      return joined
    }
  }
}
