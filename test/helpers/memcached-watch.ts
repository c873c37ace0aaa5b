/**
 * Every get a memcached server answers, as memcached itself reports it (`watch fetchers`, memcached 1.5.19+): the key,
 * found or not, and the item's size. Tests count the gets a proxy makes per answer with it, not with the proxy's own
 * word. Start memcached with one worker thread (`threads: 1`), so `settle` can tell when every earlier get is logged:
 * its own get is logged after them.
 */
import { connect, type Socket } from 'node:net'

export interface Fetch {
  readonly key: string
  readonly found: boolean
  readonly size: number
}

export interface FetchWatch {
  /** Every get logged so far, in order. */
  readonly fetches: readonly Fetch[]
  /** Resolves once every get made before this call is in `fetches`. */
  settle (): Promise<void>
  close (): Promise<void>
}

const DEADLINE_MS = 5000

export async function watchFetches (address: string): Promise<FetchWatch> {
  const [host = '127.0.0.1', port = '0'] = address.split(':')
  const watcher = await open(host, Number(port))
  const client = await open(host, Number(port))
  client.on('data', () => {})
  const fetches: Fetch[] = []
  const waiting = new Map<string, () => void>()
  let rest = ''
  watcher.setEncoding('utf8')
  watcher.on('data', (text: string) => {
    const lines = (rest + text).split('\n')
    rest = lines.pop() ?? ''
    for (const line of lines) {
      const key = /\bkey=(\S+)/.exec(line)?.[1]
      if (!line.includes('type=item_get') || key === undefined) continue
      const fetch = { key: decodeURIComponent(key), found: line.includes('status=found'), size: Number(/\bsize=(\d+)/.exec(line)?.[1] ?? 0) }
      fetches.push(fetch)
      waiting.get(fetch.key)?.()
    }
  })
  await new Promise<void>((resolve, reject) => {
    watcher.once('data', (first: string) => first.startsWith('OK') ? resolve() : reject(new Error(`watch refused: ${first}`)))
    watcher.write('watch fetchers\r\n')
  })
  let syncs = 0
  return {
    fetches,
    async settle () {
      const key = `watch-settle-${process.pid}-${++syncs}`
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`memcached did not log ${key} within ${DEADLINE_MS} ms`)), DEADLINE_MS)
        waiting.set(key, () => { clearTimeout(timer); waiting.delete(key); resolve() })
        client.write(`get ${key}\r\n`)
      })
    },
    async close () {
      watcher.destroy()
      client.destroy()
    }
  }
}

async function open (host: string, port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, host)
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}
