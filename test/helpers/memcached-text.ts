/** One text-protocol command to a real memcached, for tests that read its own view (stats, a meta get's ttl). */
import { connect } from 'node:net'

/** Sends `command` on a new connection and resolves with the reply once `complete` says it has all of it. */
export async function memcachedText (address: string, command: string, complete: (text: string) => boolean): Promise<string> {
  const [host = '127.0.0.1', port = '0'] = address.split(':')
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(port), host)
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      text += chunk
      if (!complete(text)) return
      socket.end()
      resolve(text)
    })
    socket.once('error', reject)
    socket.write(`${command}\r\n`)
  })
}

/** memcached's own counters (`stats`), by name. */
export async function memcachedStats (address: string): Promise<Map<string, number>> {
  const text = await memcachedText(address, 'stats', t => t.endsWith('END\r\n'))
  const out = new Map<string, number>()
  for (const line of text.split('\r\n')) {
    const m = /^STAT (\S+) (\d+)$/.exec(line)
    if (m !== null) out.set(m[1] as string, Number(m[2]))
  }
  return out
}
