/**
 * An origin handler serving one large body of known bytes, honouring a single `Range: bytes=a-b` (206) as a file
 * server does, and optionally dripping the body in pieces (a slow origin). Byte i is (i * 131 + 7) & 0xff, so any
 * slice can be checked without keeping a copy.
 */
import type { OriginHandler } from './origin.js'

export function byteAt (i: number): number {
  return (i * 131 + 7) & 0xff
}

export function bytesOf (start: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) b[i] = byteAt(start + i)
  return b
}

export interface ByteOriginOptions {
  headers?: Record<string, string>
  /** Body written in pieces of this many bytes, one per `gapMs` (0: at once). */
  pieceBytes?: number
  gapMs?: number
  /** Close the connection after this many body bytes (an origin that dies mid-body). */
  cutAfterBytes?: number
}

export function byteOrigin (size: number, opts: ByteOriginOptions = {}): OriginHandler {
  const whole = bytesOf(0, size)
  return (req, res) => {
    const headers: Record<string, string> = { 'content-type': 'video/mp4', 'accept-ranges': 'bytes', ...opts.headers }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    let body = whole
    if (m !== null) {
      const start = Number(m[1])
      const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
      body = whole.subarray(start, end + 1)
      res.writeHead(206, { ...headers, 'content-length': String(body.length), 'content-range': `bytes ${start}-${end}/${size}` })
    } else {
      res.writeHead(200, { ...headers, 'content-length': String(size) })
    }
    const piece = opts.pieceBytes ?? 0
    const cut = opts.cutAfterBytes
    if (piece === 0 && cut === undefined) {
      res.end(body)
      return
    }
    let at = 0
    const step = piece === 0 ? body.length : piece
    const next = (): void => {
      if (res.destroyed) return
      if (cut !== undefined && at >= cut) {
        res.socket?.destroy()
        return
      }
      const end = Math.min(at + step, body.length, cut ?? Infinity)
      const chunk = body.subarray(at, end)
      at = end
      if (at >= body.length) {
        res.end(chunk)
        return
      }
      res.write(chunk)
      setTimeout(next, opts.gapMs ?? 0)
    }
    next()
  }
}
