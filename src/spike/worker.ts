/**
 * A load thread for `--workers N`: runs its share of each slice with autocannon and posts what it saw to the main
 * thread in batches every 50 ms (one message per response would cost the main thread more than the load itself).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import { makeRequestMix, runAutocannon, eluSince, type LoadSettings, type LoadSink } from './load.js'
import type { Batch, ToWorker } from './workers.js'

const FLUSH_MS = 50
const port = parentPort
if (port === null) throw new Error('worker.ts runs as a worker thread')
const settings = (workerData as { settings: LoadSettings }).settings
const requests = makeRequestMix(settings.mix, settings.seed)

let batch: Batch = emptyBatch()
let elu = performance.eventLoopUtilization()
let lastFlush = performance.now()
let stop: (() => void) | undefined

function emptyBatch (): Batch {
  return { type: 'batch', labels: [], statuses: [], latencies: [], caches: [], errors: [], busy: 0, ms: 0 }
}

const sink: LoadSink = {
  response (label, status, latencyMs, xCache) {
    batch.labels.push(label)
    batch.statuses.push(status)
    batch.latencies.push(latencyMs)
    batch.caches.push(xCache ?? null)
  },
  error (label) { batch.errors.push(label ?? -1) }
}

function flush (): void {
  const { busy, now } = eluSince(elu)
  elu = now
  const at = performance.now()
  batch.busy = busy
  batch.ms = at - lastFlush
  lastFlush = at
  port?.postMessage(batch)
  batch = emptyBatch()
}

setInterval(flush, FLUSH_MS)

port.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    stop?.()
    return
  }
  runAutocannon(settings.target, message.slice, requests, settings.timeoutSeconds, sink, (s) => { stop = s })
    .then(() => { flush(); port.postMessage({ type: 'done' }) })
    .catch((err: unknown) => { flush(); port.postMessage({ type: 'failed', message: (err as Error).message }) })
    .finally(() => { stop = undefined })
})
port.postMessage({ type: 'ready' })
