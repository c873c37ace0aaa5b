/**
 * `npm run bench:micro`: the pure stages a cache hit passes through, in nanoseconds per call. These are the
 * figures behind "shedding costs microseconds" (it costs well under one) and the hit path's budget.
 * Absolute numbers on a shared machine: compare runs on the same machine, not across machines.
 */
import { parseConfig } from '../src/config/load.js'
import { compileRoutes, matchRoute } from '../src/shed-routes.js'
import { decideShed } from '../src/shed.js'
import { ShedShare } from '../src/shed-share.js'
import { resolveFlags } from '../src/config/flags.js'
import { makeCacheKey, makeKeyOptions, normalizeQuery } from '../src/key.js'
import { splitTarget } from '../src/core/target.js'
import { decideUsable } from '../src/policy/usable.js'
import { decodeRecord, encodeRecord, type MetaMemo } from '../src/store/codec.js'
import { LRUCache } from 'lru-cache'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { StoredEntry } from '../src/store/types.js'
import { createProxy } from '../src/proxy.js'
import { makeEntry } from '../src/core/make-entry.js'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { makePage } from './page.js'
import pino from 'pino'
import { ChunkedDestination, makeLogger } from '../src/core/log.js'
import { StubResponse, stubPageEntry, stubSocket } from './stub-http.js'

const loaded = parseConfig(JSON.stringify({
  origin: { url: 'http://127.0.0.1:3000' },
  flags: { comments: true, shedPercent: 30 },
  routes: [
    { match: '/__corral/', priority: 'critical' },
    { match: '/api/', priority: 'critical' },
    { match: '/comments/', flag: 'comments', priority: 'sheddable' },
    { match: '/search', priority: 'sheddable' },
    { match: '~^/article/\\d+', priority: 'normal' },
    { match: '/static/', priority: 'normal' },
    { match: '/account/', priority: 'critical' },
    { match: '/tag/', priority: 'sheddable' }
  ]
}))
const table = compileRoutes(loaded)
const flags = resolveFlags(loaded.config)
const load = { originSaturated: false, share: new ShedShare() }
const keyOptions = makeKeyOptions(loaded.config)
const now = Date.now()
const entry: StoredEntry = stubPageEntry(now, 60_000, 10_000)
const encoded = encodeRecord(entry)
const memo: MetaMemo = new LRUCache({ max: 100, maxSize: 1 << 24 })

let sink = 0
function measure (name: string, fn: (i: number) => unknown, iterations = 2_000_000): void {
  for (let i = 0; i < 100_000; i++) fn(i)
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) if (fn(i) !== undefined) sink++
  const ns = Number(process.hrtime.bigint() - start) / iterations
  process.stdout.write(`${name.padEnd(58)} ${ns.toFixed(1).padStart(8)} ns/op\n`)
}

const paths = ['/article/123', '/', '/comments/9', '/api/x', '/search?q=tv', '/tag/deals']
measure('shed: matchRoute + decideShed (8 routes, shedPercent 30)', (i) => {
  const route = matchRoute(table, paths[i % paths.length] as string)
  return decideShed(route, flags, load)
})
measure('key: splitTarget + makeCacheKey (query sorted, utm dropped)', () => {
  const t = splitTarget('/article/123?b=2&a=1&utm_source=x')
  return makeCacheKey('www.example.com', t.path, normalizeQuery(t.query, keyOptions), keyOptions)
})
measure('key: splitTarget + makeCacheKey (no query)', () => {
  const t = splitTarget('/article/123')
  return makeCacheKey('www.example.com', t.path, normalizeQuery(t.query, keyOptions), keyOptions)
})
measure('policy: decideUsable', () => decideUsable(entry, now + 1000))
measure('codec: decodeRecord (metadata parsed)', () => decodeRecord(encoded, entry.key), 200_000)
measure('codec: decodeRecord (metadata memoised by stamp)', () => decodeRecord(encoded, entry.key, memo))

// A whole L1 hit through Pipeline.handle, node:http's objects stubbed (what corral itself costs per hit; the writev and
// node's own request handling are the rest). Each call gets a fresh request and response, as node:http gives.
const proxy = createProxy(parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:3000' }, log: { access: false, level: 'error' } })), { admin: false })
await proxy.pipeline.cache.store.set(entry.key, entry, 3_600_000)
let notHits = 0
const socket = stubSocket
function handleHit (pipeline: typeof proxy.pipeline): void {
  // Built per call, as node's parser builds them: the URL and Host are fresh strings every time.
  const req = { url: String.fromCharCode(47) + 'article/123', method: 'GET', headers: { host: 'www.example.com'.slice(0), connection: 'keep-alive' }, socket }
  const res = new StubResponse(req)
  pipeline.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse)
  if (res.statusCode !== 200) notHits++
}
measure('pipeline: Pipeline.handle, an L1 hit (node:http stubbed)', () => handleHit(proxy.pipeline))
// The default config: the access line on, written as corral writes it (chunked, synchronous) to /dev/null.
const logged = createProxy(parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:3000' }, log: { level: 'info' } })), {
  admin: false,
  logger: makeLogger('info', new ChunkedDestination(pino.destination({ dest: '/dev/null', sync: true, contentMode: 'buffer' }) as unknown as { write (chunk: Buffer): unknown }))
})
// The same hit on a compressed page (compress/*): a br client, the coding chosen from the memo by its Accept-Encoding.
const page = makePage(100 * 1024)
const coded = makeEntry('www.example.com/article/124', 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'public, max-age=3600', etag: '"abc"' },
  page, { storedAt: now, initialAgeSeconds: 0, freshUntil: now + 3_600_000, staleWhileRevalidateUntil: now + 3_600_000, staleIfErrorUntil: now + 3_600_000, mustRevalidate: false },
  undefined, [{ coding: 'br', body: brotliCompressSync(page) }, { coding: 'gzip', body: gzipSync(page) }])
await proxy.pipeline.cache.store.set(coded.key, coded, 3_600_000)
measure('pipeline: Pipeline.handle, an L1 hit on a compressed page, br', () => {
  const req = { url: String.fromCharCode(47) + 'article/124', method: 'GET', headers: { host: 'www.example.com'.slice(0), connection: 'keep-alive', 'accept-encoding': 'gzip, deflate, br, zstd' }, socket }
  const res = new StubResponse(req)
  proxy.pipeline.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse)
  if (res.statusCode !== 200) notHits++
})
await logged.pipeline.cache.store.set(entry.key, entry, 3_600_000)
measure('pipeline: Pipeline.handle, an L1 hit, access log on', () => handleHit(logged.pipeline))
if (notHits !== 0) process.stdout.write(`unexpected: ${notHits} calls were not answered 200 from memory\n`)
if (sink < 0) process.stdout.write('unreachable\n')
