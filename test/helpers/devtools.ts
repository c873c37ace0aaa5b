/**
 * Headless Chromium driven over the DevTools protocol (undici's WebSocket, no driver library): launched with a fresh
 * profile and no network of its own, one page, commands sent and answered by id. Ended with its whole process group.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'undici'

/** The chromium binary on PATH, or null. */
export function findChromium (): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || null
  } catch {
    return null
  }
}

export interface Browser {
  /** Sends one command to the page and resolves with its result (rejects with the protocol's error). */
  send (method: string, params?: Record<string, unknown>): Promise<unknown>
  close (): Promise<void>
}

const LAUNCH_DEADLINE_MS = 20_000

export async function launchChromium (binary: string, extraArgs: readonly string[] = []): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'corral-chromium-'))
  const child = spawn(binary, [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--remote-debugging-port=0', `--user-data-dir=${profile}`, ...extraArgs, 'about:blank'
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      process.kill(-child.pid, 'SIGKILL')
      await exited
    }
    await rm(profile, { recursive: true, force: true })
  }
  try {
    const port = await devtoolsPort(child)
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as Array<{ type: string, webSocketDebuggerUrl: string }>
    const page = targets.find(t => t.type === 'page')
    if (page === undefined) throw new Error('chromium opened no page')
    const socket = new WebSocket(page.webSocketDebuggerUrl)
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true })
      socket.addEventListener('error', () => reject(new Error('could not connect to the page\'s DevTools socket')), { once: true })
    })
    const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number, result?: unknown, error?: { message: string } }
      if (message.id === undefined) return
      const waiter = pending.get(message.id)
      pending.delete(message.id)
      if (message.error !== undefined) waiter?.reject(new Error(message.error.message))
      else waiter?.resolve(message.result)
    })
    let ids = 0
    return {
      async send (method, params = {}) {
        const id = ++ids
        return await new Promise((resolve, reject) => {
          pending.set(id, { resolve, reject })
          socket.send(JSON.stringify({ id, method, params }))
        })
      },
      async close () {
        socket.close()
        await stop()
      }
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** The port chromium prints on stderr ("DevTools listening on ws://127.0.0.1:PORT/…"). */
async function devtoolsPort (child: ChildProcess): Promise<number> {
  return await new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error(`chromium did not open DevTools within ${LAUNCH_DEADLINE_MS} ms: ${text.slice(-500)}`)), LAUNCH_DEADLINE_MS)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`chromium exited (${code}): ${text.slice(-500)}`)) })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk
      const port = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(text)?.[1]
      if (port !== undefined) {
        clearTimeout(timer)
        resolve(Number(port))
      }
    })
  })
}
