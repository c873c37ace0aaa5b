/**
 * Sending the load: one autocannon run per slice, each response recorded with its path label, status, latency
 * and X-Cache. `makeInProcessEngine` runs autocannon on this thread; workers.ts runs it on several threads.
 */
import type { EventEmitter } from 'node:events'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { makePicker, type Mix } from './mix.js'
import type { Slice } from './scenario.js'

/** Where a load thread's observations go. */
export interface LoadSink {
  response (label: number, status: number, latencyMs: number, xCache: string | undefined): void
  /** A connection error or timeout: a request without a response. */
  error (label: number | undefined): void
}

export interface LoadEngine {
  /** Runs one slice; `onStart` gets a stop function for an abort. Resolves once autocannon has stopped. */
  runSlice (slice: Slice, onStart: (stop: () => void) => void): Promise<void>
  /** Event-loop utilisation (0–1) of the busiest load thread since the previous call. */
  busy (): number
  close (): Promise<void>
}

export interface LoadSettings {
  readonly target: string
  readonly mix: Mix
  readonly seed: number
  readonly timeoutSeconds: number
}

// autocannon only notices stop() on its sampling tick; 100 ms bounds how late an abort or a slice ends.
const SAMPLE_INTERVAL_MS = 100

type AutocannonRequest = NonNullable<autocannon.Options['requests']>[number]

interface LabelContext { label?: number }

/** One autocannon request entry whose setupRequest picks anew each time and notes the label in the connection's context. */
export function makeRequestMix (mix: Mix, seed: number): AutocannonRequest[] {
  const pick = makePicker(mix, seed)
  // One entry whose setupRequest picks anew each time: autocannon otherwise walks a list in the same order
  // on every connection, so every connection would ask for the same page at the same moment.
  return [{
    setupRequest: (req: autocannon.Request, context: LabelContext) => {
      const next = pick()
      context.label = next.label
      return { ...req, method: next.method as autocannon.Request['method'], path: next.path, headers: { ...req.headers, ...next.headers }, ...(next.body === undefined ? {} : { body: next.body }) }
    }
  } as AutocannonRequest]
}

interface ParsedHeaders { readonly headers?: unknown }

function findXCache (info: ParsedHeaders): string | undefined {
  const raw = info.headers
  if (!Array.isArray(raw)) return undefined
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === 'x-cache') return String(raw[i + 1])
  }
  return undefined
}

interface Client extends EventEmitter { readonly requestIterator?: { readonly context?: LabelContext } }

export function runAutocannon (
  target: string, slice: Slice, requests: AutocannonRequest[], timeoutSeconds: number, sink: LoadSink,
  onStart: (stop: () => void) => void
): Promise<void> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: target,
      connections: slice.connections,
      duration: slice.durationMs / 1000,
      sampleInt: SAMPLE_INTERVAL_MS,
      timeout: timeoutSeconds,
      requests,
      ...(slice.rate === undefined ? {} : { overallRate: slice.rate }),
      skipAggregateResult: true,
      setupClient: (client: Client) => {
        // Pipelining is 1, so the headers seen last on a connection, and the label its context holds, belong to
        // the response that completes next (autocannon emits 'response' before it builds the next request).
        let xCache: string | undefined
        const label = (): number | undefined => client.requestIterator?.context?.label
        client.on('headers', (info: ParsedHeaders) => { xCache = findXCache(info) })
        client.on('response', (status: number, _bytes: number, latencyMs: number) => { sink.response(label() ?? 0, status, latencyMs, xCache) })
        // A timeout is emitted after autocannon has reconnected and built the next request; the label noted when
        // that request began ('request' comes before the rebuild) is the one that timed out.
        let beforeNext: number | undefined
        client.on('request', () => { beforeNext = label() })
        client.on('connError', () => { sink.error(label()) })
        client.on('timeout', () => { sink.error(beforeNext) })
      }
    } as autocannon.Options, (err: unknown) => {
      if (err === null || err === undefined) resolve()
      else reject(err instanceof Error ? err : new Error(String(err)))
    })
    onStart(() => { instance.stop() })
  })
}

/** Event-loop utilisation since `previous`, and the reading to pass next time. */
export function eluSince (previous: EventLoopUtilization): { busy: number, now: EventLoopUtilization } {
  const now = performance.eventLoopUtilization()
  return { busy: performance.eventLoopUtilization(now, previous).utilization, now }
}

/** autocannon on this thread: the default, and what tests use (their clock and sink see every response at once). */
export function makeInProcessEngine (settings: LoadSettings, sink: LoadSink): LoadEngine {
  const requests = makeRequestMix(settings.mix, settings.seed)
  let mark = performance.eventLoopUtilization()
  return {
    runSlice: (slice, onStart) => runAutocannon(settings.target, slice, requests, settings.timeoutSeconds, sink, onStart),
    busy () {
      const { busy, now } = eluSince(mark)
      mark = now
      return busy
    },
    close: async () => {}
  }
}
