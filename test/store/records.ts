import type { StoredEntry, VaryIndex } from '../../src/store/types.js'

/** Every byte value, so an encoding that treats the body as text shows up. */
export const binaryBody = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256))

export function makeEntry (key: string, overrides: Partial<StoredEntry> = {}): StoredEntry {
  const now = 1_700_000_000_000
  return {
    kind: 'entry',
    key,
    status: 200,
    headers: ['content-type', 'application/octet-stream', 'cache-control', 'max-age=60', 'x-unicode', 'ünï'],
    body: binaryBody,
    storedAt: now,
    initialAgeSeconds: 3,
    freshUntil: now + 60_000,
    staleWhileRevalidateUntil: now + 120_000,
    staleIfErrorUntil: now + 300_000,
    mustRevalidate: false,
    etag: '"v1"',
    lastModified: undefined,
    ...overrides
  } as StoredEntry
}

export function makeVary (key: string): VaryIndex {
  return { kind: 'vary', key, varyHeaders: ['accept-encoding', 'accept-language'], epoch: 'e1', storedAt: 1_700_000_000_000 }
}

let n = 0
/** A key no other test (or test file sharing the memcached) uses. */
export function uniqueKey (label = 'k'): string {
  return `example.com/${label}?n=${++n}&r=${process.pid}-${Math.random().toString(36).slice(2)}`
}
