import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { connect, createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface MemcachedProcess {
  host: string
  port: number
  /** `host:port`, the form MemcachedStore's `servers` takes. */
  address: string
  /** Ends the process and resolves once it has exited (the port is free again). */
  stop (): Promise<void>
  /** SIGKILL, without waiting: for exit handlers. */
  kill (): void
}

export interface StartMemcachedOptions {
  memoryMb?: number
  /** memcached `-I`; at least 1024 and at most half of `memoryMb`. */
  maxItemBytes?: number
  /** A fixed port (e.g. to bring a node back where a store expects it); a free one otherwise. */
  port?: number
  /** memcached `-t`: worker threads. One keeps `watch` lines in the order the operations ran (memcached-watch.ts). */
  threads?: number
}

const HOST = '127.0.0.1'
const READY_DEADLINE_MS = 5000

/** The memcached binary on PATH, or null. */
export function findMemcached (): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, 'memcached')
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }
  return null
}

/** A port nothing listens on right now: the OS picks it for a throwaway listener. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, HOST, resolve)
  })
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('could not read the port of a listener')
  return address.port
}

export async function startMemcached (opts: StartMemcachedOptions = {}): Promise<MemcachedProcess> {
  const bin = findMemcached()
  if (bin === null) throw new Error('memcached is not on PATH (apt-get install memcached)')
  const port = opts.port ?? await freePort()
  const args = ['-l', HOST, '-p', String(port), '-U', '0', '-m', String(opts.memoryMb ?? 64)]
  if (opts.maxItemBytes !== undefined) args.push('-I', String(opts.maxItemBytes))
  if (opts.threads !== undefined) args.push('-t', String(opts.threads))
  // memcached refuses to start as root unless told which user to become.
  if (process.getuid?.() === 0) args.push('-u', 'nobody')
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  let gone = false
  exited.then(() => { gone = true }, () => {})
  child.once('error', err => { stderr += String(err) })

  const started = Date.now()
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    if (gone) throw new Error(`memcached exited before accepting connections: ${stderr.trim()}`)
    if (await accepts(port)) break
    if (Date.now() - started > READY_DEADLINE_MS) {
      child.kill('SIGKILL')
      throw new Error(`memcached did not accept connections on ${HOST}:${port} within ${READY_DEADLINE_MS} ms: ${stderr.trim()}`)
    }
    await sleep(wait)
  }

  return {
    host: HOST,
    port,
    address: `${HOST}:${port}`,
    async stop () {
      // SIGTERM waits for memcached's once-a-second clock tick (measured ~1 s per stop); a cache has nothing to flush.
      if (!gone) child.kill('SIGKILL')
      await exited
    },
    kill () {
      if (!gone) child.kill('SIGKILL')
    }
  }
}

function accepts (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect(port, HOST)
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}
