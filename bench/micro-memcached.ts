/**
 * `npm run bench:micro-memcached`: what a hit served from memcached (L1 off) costs this process, in CPU nanoseconds
 * per read, against a real memcached on a free loopback port. Waves of reads are issued in one event-loop turn, as a
 * burst of requests arrives, and each wave waits for all its answers; CPU is this process's (user + system), so the
 * memcached process and other load on the machine do not count (they still disturb caches and clocks: compare runs
 * on the same machine, back to back).
 *
 * It runs the built dist/ (`npm run build` first; the script says so if it is missing): under tsx every closure the
 * source creates is also given a name at run time (esbuild's keepNames), which cost a read that allocates closures
 * about a microsecond more than node running tsc's output does, and would skew a comparison of two versions.
 *
 *   npm run bench:micro-memcached                      every row, 3 rounds of about 1 s each
 *   npm run bench:micro-memcached -- --rounds 5 --ms 2000
 *   npm run bench:micro-memcached -- --only pipeline    rows whose name contains the text (e.g. under --cpu-prof)
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { CacheRecord, StoredEntry } from '../src/store/types.js'
import { ROOT, startMemcached, stopAll } from './lib.js'
import { makePage } from './page.js'
import { StubResponse, stubSocket } from './stub-http.js'

/** A module of the built dist/, typed as its source. */
async function built<T> (path: string): Promise<T> {
  const file = join(ROOT, 'dist', path)
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`)
  return await import(pathToFileURL(file).href) as T
}
const { parseConfig } = await built<typeof import('../src/config/load.js')>('config/load.js')
const { makeEntry } = await built<typeof import('../src/core/make-entry.js')>('core/make-entry.js')
const { createProxy } = await built<typeof import('../src/proxy.js')>('proxy.js')
const { MemcachedStore } = await built<typeof import('../src/store/memcached.js')>('store/memcached.js')
const { TieredStore } = await built<typeof import('../src/store/tiered.js')>('store/tiered.js')
type Tiered = InstanceType<typeof TieredStore>

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, ms: { type: 'string', default: '1000' }, only: { type: 'string', default: '' } }, strict: true })
// Bounded: at most 10 rounds of 5 s per row.
const ROUNDS = Math.min(10, Math.max(1, Number(values.rounds)))
const ROUND_MS = Math.min(5000, Math.max(200, Number(values.ms)))

const now = Date.now()
const deadlines = { storedAt: now, initialAgeSeconds: 0, freshUntil: now + 3_600_000, staleWhileRevalidateUntil: now + 3_600_000, staleIfErrorUntil: now + 3_600_000, mustRevalidate: false }
const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'public, max-age=3600', etag: '"abc"' }

function pageEntry (key: string): StoredEntry {
  return makeEntry(key, 200, headers, Buffer.alloc(1024, 'x'), deadlines)
}

/** Runs `wave` (which resolves when its reads are answered) for ROUND_MS, ROUNDS times; prints the median CPU ns per read. */
async function measure (name: string, readsPerWave: number, wave: () => Promise<void>): Promise<void> {
  if (!name.includes(values.only)) return
  for (let i = 0; i < 200; i++) await wave()
  const perRead: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    let reads = 0
    while (performance.now() - t0 < ROUND_MS) {
      await wave()
      reads += readsPerWave
    }
    const cpu = process.cpuUsage(cpu0)
    perRead.push((cpu.user + cpu.system) * 1000 / reads)
  }
  perRead.sort((a, b) => a - b)
  const median = perRead[Math.floor(perRead.length / 2)] as number
  process.stdout.write(`${name.padEnd(66)} ${median.toFixed(0).padStart(7)} CPU-ns/read  (rounds ${perRead.map((n) => n.toFixed(0)).join(', ')})\n`)
}

/** A wave of `keys.length` reads through `store.get`, each answered through a `then`, as steps/lookup.ts reads. */
function storeWave (store: Tiered, keys: readonly string[]): () => Promise<void> {
  let left = 0
  let done: () => void = () => {}
  let misses = 0
  const onRecord = (record: CacheRecord | undefined): void => {
    if (record?.kind !== 'entry') misses++
    if (--left === 0) done()
  }
  return async () => {
    await new Promise<void>((resolve) => {
      done = resolve
      left = keys.length
      for (const key of keys) {
        const found = store.get(key)
        if (found instanceof Promise) found.then(onRecord, () => {})
        else onRecord(found)
      }
    })
    if (misses > 0) throw new Error(`${misses} reads missed: is memcached up?`)
  }
}

async function main (): Promise<void> {
  const mc = await startMemcached()
  if (mc === null) throw new Error('memcached is not installed')
  const base = { timeoutMs: 1000, retryDownMs: 1000, prefix: 'micro:', maxItemBytes: 1024 * 1024 }
  const shared = new MemcachedStore({ servers: [mc.server], ...base })
  await shared.ready
  const store = new TieredStore({ l1: { maxBytes: 1 << 20, maxTtlMs: 0 }, l2: shared })
  try {
    const hot = 'www.example.com/page'
    await store.set(hot, pageEntry(hot), 3_600_000)
    const distinct = Array.from({ length: 64 }, (_, i) => `www.example.com/page/${i}`)
    for (const key of distinct) await store.set(key, pageEntry(key), 3_600_000)
    const big = makePage(100 * 1024)
    const coded = 'www.example.com/coded'
    await store.set(coded, makeEntry(coded, 200, headers, big, deadlines, undefined,
      [{ coding: 'br', body: brotliCompressSync(big) }, { coding: 'gzip', body: gzipSync(big) }]), 3_600_000)

    await measure('store: 64 reads of one 1 KiB page in one turn (one get)', 64, storeWave(store, Array(64).fill(hot) as string[]))
    await measure('store: 64 reads of 64 1 KiB pages in one turn (64 gets)', 64, storeWave(store, distinct))
    await measure('store: 1 read of one 1 KiB page per turn (one get each)', 1, storeWave(store, [hot]))
    await measure('store: 1 read of a 100 KiB page stored br + gzip per turn', 1, storeWave(store, [coded]))
    await pipelineRows(mc.server, hot)
  } finally {
    await store.close()
    await stopAll()
  }
}

/**
 * Pipeline.handle with L1 off, node:http's objects stubbed: corral's own cost of a memcached hit (the client's
 * writev and node's request parsing are the rest), 64 requests in one turn as a burst of connections brings them.
 */
async function pipelineRows (server: string, key: string): Promise<void> {
  const proxy = createProxy(parseConfig(JSON.stringify({
    origin: { url: 'http://127.0.0.1:3000' },
    log: { access: false, level: 'error' },
    cache: { memcached: { servers: [server], prefix: 'micro:' }, memory: { maxTtlSeconds: 0 } }
  })), { admin: false })
  const socket = stubSocket
  let left = 0
  const notHits = new Map<number, number>()
  let done: () => void = () => {}
  class CountingResponse extends StubResponse {
    override end (): void {
      super.end()
      if (this.statusCode !== 200) notHits.set(this.statusCode, (notHits.get(this.statusCode) ?? 0) + 1)
      if (--left === 0) done()
    }
  }
  const path = '/' + key.slice(key.indexOf('/') + 1)
  const wave = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      done = resolve
      left = 64
      for (let i = 0; i < 64; i++) {
        // Fresh strings per request, as node's parser makes them.
        const req = { url: path.slice(0), method: 'GET', headers: { host: 'www.example.com'.slice(0), connection: 'keep-alive' }, socket }
        proxy.pipeline.handle(req as unknown as IncomingMessage, new CountingResponse(req) as unknown as ServerResponse)
      }
    })
  }
  try {
    await proxy.pipeline.cache.store.set(key, pageEntry(key), 3_600_000)
    await measure('pipeline: Pipeline.handle, 64 memcached hits (L1 off) in one turn', 64, wave)
    // A get past memcached.timeoutMs (50 ms by default) on a stalled machine is a miss, and the origin here is absent.
    if (notHits.size !== 0) process.stdout.write(`unexpected: answers not 200, by status: ${JSON.stringify([...notHits])}\n`)
  } finally {
    await proxy.close()
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  await stopAll()
  process.exitCode = 1
})
