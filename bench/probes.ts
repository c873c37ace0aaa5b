/** Readings from the servers under test: corral's admin /metrics, memcached's `stats`, and the shape of an answer. */
import { connect } from 'node:net'
import { Pool } from 'undici'
import { sumMetric } from '../src/spike/metrics.js'

/** Sum of a Prometheus counter over all its label sets, from corral's admin /metrics. NaN when unreadable. */
export async function metricSum (adminUrl: string, name: string, labelFilter = ''): Promise<number> {
  try {
    const res = await fetch(`${adminUrl}/metrics`)
    return sumMetric(await res.text(), name, labelFilter) ?? 0
  } catch {
    return NaN
  }
}

/** memcached's `stats` as numbers (cmd_get, get_hits, curr_items, …). */
export async function memcachedStats (port: number): Promise<Record<string, number>> {
  return await new Promise((resolve, reject) => {
    let text = ''
    const socket = connect(port, '127.0.0.1', () => socket.write('stats\r\n'))
    socket.setEncoding('utf8')
    socket.setTimeout(2000, () => socket.destroy(new Error('memcached stats timed out')))
    socket.on('data', (chunk: string) => {
      text += chunk
      if (text.endsWith('END\r\n')) {
        socket.end()
        const stats: Record<string, number> = {}
        for (const line of text.split('\r\n')) {
          const [tag, name, value] = line.split(' ')
          if (tag === 'STAT' && name !== undefined && value !== undefined) stats[name] = Number(value)
        }
        resolve(stats)
      }
    })
    socket.once('error', reject)
  })
}

/** Header names and the byte size of a response's head, to check that the ceiling writes what corral writes. */
export async function responseShape (url: string): Promise<{ names: string[], headBytes: number, bodyBytes: number }> {
  const parsed = new URL(url)
  const pool = new Pool(parsed.origin, { connections: 1 })
  try {
    const res = await pool.request({ path: parsed.pathname, method: 'GET' })
    const body = Buffer.from(await res.body.arrayBuffer())
    const names = Object.keys(res.headers).sort()
    let headBytes = 'HTTP/1.1 200 OK\r\n'.length + 2
    for (const [name, value] of Object.entries(res.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) headBytes += name.length + 2 + String(v).length + 2
    }
    return { names, headBytes, bodyBytes: body.length }
  } finally {
    await pool.destroy()
  }
}
