/**
 * origin/growing-fill: a storable fill whose clients are answered while its body arrives (stream while filling).
 * The fill decides at the origin's headers (fill.ts); from then on the leader and every waiter of its flight read the
 * same GrowingBody, and the store is written once the body is complete. [I/O: reads the origin body]
 *
 * Only an answer with a Content-Length, at least STREAM_FROM_BYTES and at most cache.maxObjectBytes, streams: its
 * buffer is allocated once at the declared size, and an origin that sends less or more is a failure every client
 * sees. Smaller answers arrive about at once anyway, and keep the old road (the waiters get the stored entry).
 * Followers on other proxies read it as it arrives too, through memcached (coalesce/fleet-publish.ts, fleet-follow.ts).
 */
import type { Readable } from 'node:stream'
import type { ContentCoding, StoredEntry, VaryIndex } from '../core/entry.js'
import { readBodyUpTo, toOriginError, type BodyRead } from './body.js'
import { OriginTimeoutError } from '../core/errors.js'
import type { ServerResponse } from 'node:http'
import { GrowingBody } from './growing-body.js'
import { carryPublishing } from '../core/published-body.js'
import { SharedStream } from './shared-stream.js'

/**
 * Below this a body is read whole before anyone is answered. 64 KiB is a few TCP windows on loopback: less arrives in
 * one or two reads, so streaming it would only add work to the common small page.
 */
export const STREAM_FROM_BYTES = 64 * 1024

/** What a client of a streaming fill reads: a body kept whole (GrowingBody) or a window of one (SharedStream). */
export interface StreamBody {
  readonly length: number
  canJoin (start: number): boolean
  pipeTo (res: ServerResponse, start: number, end: number, stallMs: number, tally: { bytes: number }): Promise<void>
}

/** What the clients of a streaming fill need: the entry it will store (empty body, final headers) and its body. */
export interface GrowingFill {
  /** The entry as it will be stored, `body` empty: status, ready-to-write headers (Content-Length declared), deadlines. */
  readonly head: StoredEntry
  readonly vary: VaryIndex | null
  readonly body: StreamBody
  /** false: over cache.maxObjectBytes, relayed to the clients of this fetch only (SharedStream), never stored. */
  readonly stored: boolean
  /** Time to the origin's headers, for the leader's access line. */
  readonly originMs: number
  /** Read from another proxy's fill as it arrives through memcached (coalesce/fleet-follow.ts). */
  readonly fleet?: true
  /** An answer the fill compresses: its codings, made while it arrives (fill-stream-codings.ts). Absent: identity only. */
  readonly coded?: StreamCodings
}

/** One content coding of a streaming fill: its own head (Content-Encoding, weak ETag, no Content-Length) and body. */
export interface CodedStream {
  readonly head: StoredEntry
  readonly body: StreamBody
}

/** The codings a streaming fill offers, best first; each compressor starts with the first client that takes it. */
export interface StreamCodings {
  readonly codings: readonly ContentCoding[]
  /** null: this coding can no longer be joined (its output passed its buffer, or it failed): serve identity. */
  open (coding: ContentCoding): CodedStream | null
}

/** Called by the fill at most once, when its storable answer starts to stream. */
export type OnGrowing = (growing: GrowingFill) => void

/** Whether an answer of `declaredLength` (NaN: none) streams to its clients as it arrives. */
export function isStreamable (declaredLength: number, maxObjectBytes: number): boolean {
  return Number.isInteger(declaredLength) && declaredLength >= STREAM_FROM_BYTES && declaredLength <= maxObjectBytes
}

/** What a streaming fill's read came to: the whole body (stored), or, unsized and over its buffer, a relay (not stored). */
export type GrowingRead = BodyRead | { readonly kind: 'relayed' }

/**
 * Reads `source` into a GrowingBody announced through `onGrowing` (with `head` and `vary`); resolves the whole body
 * as readBodyUpTo would, or rejects with the origin error after failing the body for every reader.
 */
export async function readGrowing (
  source: Readable, declaredLength: number, head: StoredEntry, vary: VaryIndex | null, originMs: number, onGrowing: OnGrowing,
  deadlineMs = 0
): Promise<GrowingRead> {
  const body = new GrowingBody(declaredLength)
  onGrowing({ head, vary, body, originMs, stored: true })
  return await pump(source, body, deadlineMs)
}

/**
 * An answer without a Content-Length: its first STREAM_FROM_BYTES are read as readBodyUpTo would (a small page ends
 * there and keeps the old road, with no stream set up for it); a longer one then streams from a GrowingBody bounded by
 * `maxObjectBytes` (growing-body.ts says how it grows, and what happens past it). `head` carries no Content-Length.
 */
export async function readUnsized (
  source: Readable, maxObjectBytes: number, head: StoredEntry, vary: VaryIndex | null, originMs: number, onGrowing: OnGrowing,
  deadlineMs = 0
): Promise<GrowingRead> {
  const startedAt = Date.now()
  const first = await readBodyUpTo(source, STREAM_FROM_BYTES, deadlineMs)
  if (first.kind === 'complete') return first
  const body = new GrowingBody(null, maxObjectBytes)
  for (const chunk of first.head) body.append(chunk)
  body.relayFrom(source)
  onGrowing({ head, vary, body, originMs, stored: true })
  const read = pump(source, body, deadlineMs > 0 ? Math.max(1, deadlineMs - (Date.now() - startedAt)) : 0)
  // readBodyUpTo paused the body at its limit: listeners are on again, so the bytes flow.
  source.resume()
  return await read
}

/** Whether a storable answer without a Content-Length may stream: with room for more than its first read. */
export function isUnsizedStreamable (contentLength: string | undefined, maxObjectBytes: number): boolean {
  return contentLength === undefined && maxObjectBytes > STREAM_FROM_BYTES
}

async function pump (source: Readable, body: GrowingBody, deadlineMs: number): Promise<GrowingRead> {
  return await new Promise((resolve, reject) => {
    // origin.fillBodyTimeoutMs: undici's bodyTimeout bounds the gap between chunks, not a body trickled for ever. Its
    // clients already have their headers, so they see the body fail (a reset), never a short body that looks whole.
    const timer = deadlineMs > 0
      ? setTimeout(() => {
        const err = new OriginTimeoutError(new Error(`body not complete within ${deadlineMs} ms`))
        cleanup()
        body.fail(err)
        source.on('error', noop)
        source.destroy()
        settle(err)
      }, deadlineMs)
      : undefined
    const cleanup = (): void => {
      clearTimeout(timer)
      source.off('data', onData)
      source.off('end', onEnd)
      source.off('error', onError)
      source.off('close', onClose)
    }
    // A relay past the buffer is never stored, however it ends: its clients saw the end or the failure already.
    const settle = (err: Error | null): void => {
      if (body.overflowed) resolve(RELAYED)
      else if (err === null) resolve({ kind: 'complete', body: wholeOf(body) })
      else reject(toOriginError(err))
    }
    const onData = (chunk: Buffer): void => {
      if (body.append(chunk)) return
      cleanup()
      source.on('error', noop)
      source.destroy()
      settle(new Error('origin sent more than its Content-Length'))
    }
    const onEnd = (): void => {
      cleanup()
      if (body.end()) settle(null)
      else settle(new Error(`origin body ended after ${body.filled} of ${body.length} bytes`))
    }
    const onError = (err: Error): void => {
      cleanup()
      body.fail(err)
      settle(err)
    }
    // Destroyed without an error (a relay whose every client left): the fill must still end.
    const onClose = (): void => {
      cleanup()
      body.fail(new Error('origin body closed early'))
      settle(new Error('origin body closed early'))
    }
    source.on('data', onData)
    source.once('end', onEnd)
    source.once('error', onError)
    source.once('close', onClose)
  })
}

const RELAYED: GrowingRead = { kind: 'relayed' }

/** The stored body, still known as the chunks published while it arrived: its head commits them (core/published-body.ts). */
function wholeOf (body: GrowingBody): Buffer {
  const whole = body.whole()
  carryPublishing(body, whole)
  return whole
}

/** Whether an answer over cache.maxObjectBytes, otherwise storable, is relayed to every client of its fetch. */
export function isShareable (declaredLength: number, maxObjectBytes: number): boolean {
  return Number.isInteger(declaredLength) && declaredLength > maxObjectBytes
}

/**
 * Relays `source` through a SharedStream announced by `onGrowing`; resolves when the body ended whole, rejects with
 * the origin error (every client of it was cut off).
 */
export async function readShared (
  source: Readable, declaredLength: number, head: StoredEntry, vary: VaryIndex | null, originMs: number, joinTimeoutMs: number, onGrowing: OnGrowing
): Promise<void> {
  const body = new SharedStream(source, declaredLength, joinTimeoutMs)
  onGrowing({ head, vary, body, originMs, stored: false })
  try {
    await body.done
  } catch (err) {
    throw toOriginError(err)
  }
}

/** The entry's header list with the Content-Length the origin declared (makeEntry wrote the empty body's). */
export function withDeclaredLength (entry: StoredEntry, declaredLength: number, emptyBody: Buffer): StoredEntry {
  const headers = entry.headers.slice()
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-length') headers[i + 1] = String(declaredLength)
  return { ...entry, headers, body: emptyBody }
}

/** The entry's header list without Content-Length: an unsized body goes to its clients in chunked transfer encoding. */
export function withoutLength (entry: StoredEntry, emptyBody: Buffer): StoredEntry {
  const headers: string[] = []
  for (let i = 0; i < entry.headers.length; i += 2) {
    if (entry.headers[i] !== 'content-length') headers.push(entry.headers[i] as string, entry.headers[i + 1] as string)
  }
  return { ...entry, headers, body: emptyBody }
}

function noop (): void {}
