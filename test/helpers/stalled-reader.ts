import { connect, type Socket } from 'node:net'

/**
 * A raw client that sends a GET and then stops reading: the kernel's buffers fill and it falls behind the others.
 * `resume()` lets it read again, `closed` settles when the proxy (or the test) closes it, `received()` counts bytes.
 */
export interface StalledReader {
  readonly socket: Socket
  readonly closed: Promise<void>
  received: () => number
}

export function stalledReader (proxyUrl: string, path: string): StalledReader {
  const { port } = new URL(proxyUrl)
  const socket = connect(Number(port), '127.0.0.1')
  let received = 0
  const closed = new Promise<void>(resolve => socket.once('close', () => resolve()))
  socket.on('data', (chunk: Buffer) => { received += chunk.length })
  socket.on('error', () => {})
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
  socket.pause()
  return { socket, closed, received: () => received }
}
