import type { Metrics } from '../core/metrics.js'
import type { ChunkEvent } from './chunks.js'

/** What a chunk event adds to /metrics: an entry stored, read whole or in part (and its bytes), or a torn read (a miss). */
export function countChunks (metrics: Metrics, event: ChunkEvent, bytes: number): void {
  switch (event) {
    case 'stored':
      metrics.chunkedEntries.labels('stored').inc()
      metrics.chunkBytes.labels('write').inc(bytes)
      return
    case 'committed':
      // The body went out as a streaming fill's chunks (counted in corral_fleet_stream_bytes_total): only the head now.
      metrics.chunkedEntries.labels('stored').inc()
      metrics.chunkBytes.labels('write').inc(bytes)
      return
    case 'read':
      metrics.chunkedEntries.labels('read').inc()
      metrics.chunkBytes.labels('read').inc(bytes)
      return
    case 'range':
      metrics.chunkedEntries.labels('range').inc()
      metrics.chunkBytes.labels('read').inc(bytes)
      return
    case 'range-more':
      metrics.chunkBytes.labels('read').inc(bytes)
      return
    case 'torn':
      metrics.chunkMisses.inc()
      return
    case 'write-failed':
      metrics.chunkedEntries.labels('write-failed').inc()
  }
}
