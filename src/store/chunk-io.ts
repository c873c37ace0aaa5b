/**
 * store/chunk-io: the item reads and writes chunked values need (chunks.ts ItemIO), on the node that owns the value's
 * key, with a deadline of their own.  [I/O: memcached through MemcachedNodes]
 */
import type { ItemIO } from './chunks.js'
import { FAILED, type MemcachedNodes } from './memcached-nodes.js'

/**
 * A chunk get or set moves up to an item's worth of bytes behind up to three others on the same connection, and is
 * read by a process that may be busy writing the same object to many clients: the deadline meant for a 1 KiB hit
 * (50 ms by default) would time whole nodes out for a busy moment. Measured: while one proxy streamed 5 MB to 50
 * clients, its 1 MB chunk sets were answered (read off the socket) after more than 1 s, and a failed write costs the
 * fleet a second origin fetch. A chunk write delays no client; a chunk read delays the requests waiting for it.
 */
const CHUNK_TIMEOUT_FLOOR_MS = 5000

export function makeItemIO (nodes: MemcachedNodes, timeoutMs: number): ItemIO {
  const chunkTimeoutMs = Math.max(timeoutMs, CHUNK_TIMEOUT_FLOOR_MS)
  return {
    set: async (owner, itemKey, value, expires) => {
      const node = nodes.pick(owner)
      if (node === undefined) return false
      const ok = await nodes.call<boolean | null>(node, 'set', done => {
        node.client.set(itemKey, value, { expires }, (err, stored) => done(err, stored))
      }, chunkTimeoutMs)
      return ok === true
    },
    get: async (owner, itemKey) => {
      const node = nodes.pick(owner)
      if (node === undefined) return undefined
      const value = await nodes.call<Buffer | null>(node, 'get', done => {
        node.get(itemKey, done)
      }, chunkTimeoutMs)
      return value === FAILED ? undefined : value
    },
    touch: async (owner, itemKey, expires) => {
      const node = nodes.pick(owner)
      if (node === undefined) return false
      const ok = await nodes.call<boolean | null>(node, 'touch', done => {
        node.client.touch(itemKey, expires, (err, touched) => done(err, touched))
      }, chunkTimeoutMs)
      return ok === true
    },
    drop: async (owner, itemKey) => {
      const node = nodes.pick(owner)
      if (node === undefined) return
      await nodes.call<boolean | null>(node, 'delete', done => {
        node.client.delete(itemKey, (err, deleted) => done(err, deleted))
      }, chunkTimeoutMs)
    }
  }
}
