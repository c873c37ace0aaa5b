import { request } from 'undici'
import { manyConnections } from './proxy.js'

/** A client reading an answer as it arrives: a test can wait for the first bytes while the origin still holds the rest. */
export interface StreamingClient {
  status: number
  headers: Record<string, unknown>
  /** Resolves once at least `bytes` have arrived (or the body ended). */
  received: (bytes: number) => Promise<number>
  /** Resolves once `test` holds for the bytes received so far (or the body ended): a coded body decoded before it ends. */
  until: (test: (bytes: Buffer) => boolean) => Promise<Buffer>
  done: Promise<{ body: Buffer } | { error: Error }>
}

export async function streamingClient (url: string, headers: Record<string, string> = {}): Promise<StreamingClient> {
  const res = await request(url, { headers, dispatcher: manyConnections })
  const chunks: Buffer[] = []
  let count = 0
  let ended = false
  let waiters: Array<() => void> = []
  const wake = (): void => {
    const w = waiters
    waiters = []
    for (const resolve of w) resolve()
  }
  const done = (async () => {
    try {
      for await (const chunk of res.body) {
        chunks.push(chunk as Buffer)
        count += (chunk as Buffer).length
        wake()
      }
      return { body: Buffer.concat(chunks) }
    } catch (err) {
      return { error: err as Error }
    } finally {
      ended = true
      wake()
    }
  })()
  const received = async (bytes: number): Promise<number> => {
    for (;;) {
      if (count >= bytes || ended) return count
      await new Promise<void>(resolve => waiters.push(resolve))
    }
  }
  const until = async (test: (bytes: Buffer) => boolean): Promise<Buffer> => {
    for (;;) {
      const bytes = Buffer.concat(chunks)
      if (test(bytes) || ended) return bytes
      await new Promise<void>(resolve => waiters.push(resolve))
    }
  }
  return { status: res.statusCode, headers: res.headers, received, until, done }
}
