/**
 * Issue 23, item 5: fault detection measures the dependency, not the event loop. memcached's 50 ms operation timeout
 * is a timer: under CPU load the loop runs it late, often before the operation's request was even written (memjs
 * batches writes in a setImmediate), and a healthy node was marked down, switching fleet coalescing off. A timer that
 * ran late is now no evidence (store/node-health.ts isLoopStall); a node that does not answer on a responsive loop
 * still is.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { describe, expect, inject, it } from 'vitest'
import { MemcachedStore } from '../../src/store/memcached.js'
import { isLoopStall, NodeHealth, TIMEOUTS_TO_MARK_DOWN } from '../../src/store/node-health.js'
import { makeEntry, uniqueKey } from '../store/records.js'
import { judgeFailedProbe } from '../../src/origin/probe.js'

const address = inject('memcached')

function block (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* a burst of request handlers */ }
}

describe.skipIf(address === null)('a real memcached behind a busy event loop', () => {
  it('is not marked down when the loop blocks for 100 ms under load, again and again', async () => {
    const downs: string[] = []
    const store = new MemcachedStore({
      servers: [address as string],
      timeoutMs: 50,
      retryDownMs: 60_000,
      prefix: `busy${Math.random().toString(36).slice(2, 8)}:`,
      maxItemBytes: 1024 * 1024,
      onNodeDown: (server, reason) => downs.push(`${server}: ${reason}`)
    })
    try {
      await store.ready
      const key = uniqueKey()
      await store.set(key, makeEntry(key), 60_000)
      for (let round = 0; round < 12; round++) {
        // Load: 50 reads in flight, their writes not yet flushed (write-batching.ts flushes in a setImmediate), then a
        // timer callback keeps the loop busy for twice the timeout: the reads' timers expire in this same timers phase.
        const reads = await new Promise<Array<Promise<unknown>>>((resolve) => {
          const busy = (): void => {
            const started = Array.from({ length: 50 }, async () => await store.get(key))
            block(100)
            resolve(started)
          }
          // Both places a request handler runs from: a timer, and an I/O callback's follow-up (setImmediate).
          if (round % 2 === 0) setTimeout(busy, 1)
          else setImmediate(busy)
        })
        await Promise.all(reads)
      }
      expect(downs).toEqual([])
      expect(store.nodeStates().every((n) => n.up)).toBe(true)
      // Still the fleet's store: a read on a quiet loop answers from memcached.
      expect(await store.get(key)).toEqual(makeEntry(key))
    } finally {
      await store.close()
    }
  })
})

describe('a node that really does not answer', () => {
  it('is still marked down on a responsive loop', async () => {
    const sockets: Socket[] = []
    // Accepts connections and never answers: a hung memcached.
    const silent: Server = createServer((socket) => { sockets.push(socket) })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as { port: number }
    const downs: string[] = []
    const store = new MemcachedStore({
      servers: [`127.0.0.1:${port}`],
      timeoutMs: 50,
      retryDownMs: 60_000,
      prefix: 'hung:',
      maxItemBytes: 1024 * 1024,
      onNodeDown: (server) => downs.push(server)
    })
    try {
      for (let i = 0; i < TIMEOUTS_TO_MARK_DOWN; i++) await store.get(uniqueKey())
      expect(downs).toEqual([`127.0.0.1:${port}`])
    } finally {
      await store.close()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
  })
})

describe('isLoopStall and NodeHealth', () => {
  it('calls a timer four fifths of its timeout late (at least 20 ms) a stall, and no less', () => {
    expect(isLoopStall(50, 50)).toBe(true)
    expect(isLoopStall(40, 50)).toBe(true)
    expect(isLoopStall(39, 50)).toBe(false)
    expect(isLoopStall(19, 10)).toBe(false)
    expect(isLoopStall(20, 10)).toBe(true)
  })

  it('a stalled timeout neither counts toward marking down nor resets the run of real ones', () => {
    const health = new NodeHealth(1000)
    for (let i = 0; i < 10; i++) expect(health.settle('stalled', health.start(), 0).markedDown).toBe(false)
    for (let i = 0; i < TIMEOUTS_TO_MARK_DOWN - 1; i++) {
      expect(health.settle('timed-out', health.start(), 0).markedDown).toBe(false)
      health.settle('stalled', health.start(), 0)
    }
    expect(health.settle('timed-out', health.start(), 0).markedDown).toBe(true)
  })
})

describe('an origin probe', () => {
  it('that timed out on time is bad; one whose deadline fired well past its time is no verdict', () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })
    expect(judgeFailedProbe(timeout, 1010, 1000)).toBe(false)
    expect(judgeFailedProbe(timeout, 1300, 1000)).toBe(false)
    expect(judgeFailedProbe(timeout, 1900, 1000)).toBeNull()
    // A refused connection is evidence however late it is noticed.
    expect(judgeFailedProbe(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 1900, 1000)).toBe(false)
  })
})
