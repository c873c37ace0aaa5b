/**
 * node:http's request and response as a hit uses them, stubbed, for the benches that count what corral itself costs
 * per hit (bench/micro.ts, bench/micro-memcached.ts, bench/hit-instructions.ts): node's parsing and writev are the rest.
 */
export const stubSocket = { writableLength: 0, remoteAddress: '127.0.0.1' }

export class StubResponse {
  statusCode = 0
  writableEnded = false
  readonly socket = stubSocket
  constructor (readonly req: unknown) {}
  writeHead (status: number): this { this.statusCode = status; return this }
  end (): void { this.writableEnded = true }
  once (): this { return this }
  setTimeout (): this { return this }
}

/**
 * The 1 KB page every per-hit bench serves, as a stored entry: a plain object (hit-instructions.ts imports another
 * checkout's src/, so this file imports none). Fresh for `freshMs`, then stale for `staleMs` more.
 */
export function stubPageEntry (now: number, freshMs: number, staleMs: number) {
  return {
    kind: 'entry' as const,
    key: 'www.example.com/article/123',
    status: 200,
    headers: ['content-type', 'text/html; charset=utf-8', 'cache-control', 'public, max-age=60', 'etag', '"abc"', 'content-length', '1024', 'via', '1.1 corral'],
    body: Buffer.alloc(1024, 'x'),
    storedAt: now,
    initialAgeSeconds: 0,
    freshUntil: now + freshMs,
    staleWhileRevalidateUntil: now + freshMs + staleMs,
    staleIfErrorUntil: now + freshMs + staleMs,
    mustRevalidate: false,
    etag: '"abc"',
    lastModified: undefined
  }
}
