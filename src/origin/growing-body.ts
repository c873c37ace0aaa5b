/**
 * origin/growing-body: the body of a fill while it arrives, read by every client of that fill at its own pace
 * (Varnish streams a busy object to its waiting list the same way). The fill appends what the origin sends into one
 * buffer of the declared length, which becomes the stored entry's body when complete: no copy per client, no copy at
 * the end, memory bounded by the object's size whatever the number of readers. A reader that falls behind only reads
 * older bytes of the same buffer; one that takes nothing for the stall deadline is cut off, as any answer is
 * (deliver.ts limitSendStall, pass.ts). If the origin fails mid-body every reader's connection is destroyed: a client
 * sees a reset before the declared length, never a short body that looks whole.
 *
 * A body without a Content-Length (chunked transfer from the origin) is `unsized`: its buffer starts at 256 KiB and
 * doubles as it fills, up to cache.maxObjectBytes, and its clients get chunked transfer encoding, ended only when
 * the origin's body ended whole (a failure leaves it unterminated, which clients read as an error). Past the buffer it
 * is too large to store, and today's too-large rule applies to what follows (as origin/shared-stream.ts relays): it
 * goes to the clients already reading (none can join any more), the origin paused while it is RELAY_WINDOW_BYTES ahead
 * of the fastest, a client that falls that far behind the fastest cut off (it retries, and gets its own fetch), and it
 * is never stored.  [in-process state; writes to clients]
 */
import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { ClientBehindError } from '../core/errors.js'
import { drained } from '../core/drained.js'

type State = 'open' | 'complete' | 'failed'

/** How far an unsized body past its buffer runs ahead of its fastest client, and its slowest behind: shared-stream.ts's window. */
export const RELAY_WINDOW_BYTES = 8 * 1024 * 1024

/** A client reading the body, or (res null) the fleet publisher's tap (coalesce/fleet-publish.ts). */
interface Reader { pos: number, readonly res: ServerResponse | null }

/**
 * The fleet publisher's place in a body (openTap): past the buffer it holds the relayed bytes until it has written
 * them, as a client's place does; `cut` once it fell a relay window behind the fastest client.
 */
export interface BodyTap { pos: number, readonly res: null, cut: boolean }

/**
 * An unsized body's first buffer, doubled as it fills up to its capacity: reserving cache.maxObjectBytes (32 MiB by
 * default) for each fill made V8 count that much external memory per fill and collect garbage for it, 28 ms of CPU per
 * chunked 100 KiB page against 8 ms with this (bench/sections/compress-wave.ts's origin, chunked).
 */
const FIRST_UNSIZED_BYTES = 256 * 1024

export class GrowingBody {
  /** Bytes [0, filled) of the body, up to its capacity; an unsized body's moves to a larger buffer as it grows. */
  #buffer: Buffer
  /** The declared length, or for an unsized body what may be kept before it is relayed (cache.maxObjectBytes). */
  readonly #capacity: number
  /** The Content-Length the origin declared; -1 for an unsized body. */
  readonly #declared: number
  #filled = 0
  #state: State = 'open'
  #error: Error | null = null
  /** Readers waiting for more bytes (or the end); called once each, then dropped. */
  #waiting: Array<() => void> = []
  /** Past the buffer (an unsized body over it): the bytes still to relay, #tail[0] at offset #tailBase. */
  #tail: Buffer[] = []
  #tailBase: number
  readonly #readers = new Set<Reader>()
  /** The origin body of an unsized one, paused while the relay is a window ahead of the slowest reader. */
  #source: Readable | null = null

  /** `length`: the declared Content-Length; null for none, then `capacity` bytes are reserved (cache.maxObjectBytes). */
  constructor (length: number | null, capacity = 0) {
    this.#declared = length ?? -1
    this.#capacity = length ?? capacity
    this.#buffer = Buffer.allocUnsafeSlow(length ?? Math.min(capacity, FIRST_UNSIZED_BYTES))
    this.#tailBase = this.#capacity
  }

  /** The whole body once complete (declared length); bytes [0, filled) before that. Read it afresh: it may move. */
  get buffer (): Buffer {
    return this.#buffer
  }

  /** The bytes kept in the buffer at most: the declared length, or an unsized body's bound (cache.maxObjectBytes). */
  get capacity (): number {
    return this.#capacity
  }

  /** The declared length, or for an unsized body -1 (its clients get chunked transfer encoding). */
  get length (): number {
    return this.#declared
  }

  get filled (): number {
    return this.#filled
  }

  get state (): State {
    return this.#state
  }

  /** An unsized body that passed its buffer: too large to store, relayed to its readers only. */
  get overflowed (): boolean {
    return this.#filled > this.#capacity
  }

  /** Every byte is kept until the end, so any client may join at any time, until a relay lets the start go. */
  canJoin (_start: number): boolean {
    return this.#state !== 'failed' && !this.overflowed
  }

  /** The origin body an unsized one reads from: paused and resumed by the relay past its buffer. */
  relayFrom (source: Readable): void { this.#source = source }

  /** false when the chunk would pass the declared length (the origin sent more than it said): the body failed. */
  append (chunk: Buffer): boolean {
    if (this.#state !== 'open') return false
    const room = this.#capacity - this.#filled
    if (this.#declared >= 0 && chunk.length > room) {
      this.fail(new Error(`origin sent more than its Content-Length of ${this.#capacity}`))
      return false
    }
    if (room > 0) this.#reserve(this.#filled + Math.min(chunk.length, room))
    if (chunk.length <= room) {
      chunk.copy(this.#buffer, this.#filled)
    } else {
      if (room > 0) chunk.copy(this.#buffer, this.#filled, 0, room)
      this.#tail.push(room > 0 ? chunk.subarray(room) : chunk)
    }
    this.#filled += chunk.length
    if (this.overflowed && this.#filled - this.#fastest() > RELAY_WINDOW_BYTES) this.#source?.pause()
    this.#wake()
    return true
  }

  /** The origin's body ended: complete if every declared byte came (any number, unsized), else failed. */
  end (): boolean {
    if (this.#state !== 'open') return this.#state === 'complete'
    if (this.#declared >= 0 && this.#filled !== this.#declared) {
      this.fail(new Error(`origin body ended after ${this.#filled} of ${this.#declared} bytes`))
      return false
    }
    this.#state = 'complete'
    this.#wake()
    return true
  }

  /** The body as stored: the buffer, or the part of it an unsized body filled (one copy, the spare room let go). */
  whole (): Buffer {
    if (this.overflowed) throw new RangeError('a relayed body is never whole in memory')
    if (this.#declared >= 0 || this.#filled === this.#buffer.length) return this.#buffer
    const exact = Buffer.allocUnsafeSlow(this.#filled)
    this.#buffer.copy(exact, 0, 0, this.#filled)
    return exact
  }

  /** Room for `bytes` in the buffer: an unsized body's doubles (within its capacity), keeping what it holds. */
  #reserve (bytes: number): void {
    if (bytes <= this.#buffer.length) return
    const larger = Buffer.allocUnsafeSlow(Math.min(this.#capacity, Math.max(bytes, this.#buffer.length * 2)))
    this.#buffer.copy(larger, 0, 0, this.#filled)
    this.#buffer = larger
  }

  fail (err: Error): void {
    if (this.#state !== 'open') return
    this.#state = 'failed'
    this.#error = err
    this.#wake()
  }

  /**
   * Write bytes [start, end] (inclusive; end Infinity: to the end of an unsized body) to `res` as they arrive, with
   * backpressure, then end it. Resolves when the response is ended or destroyed (the origin failed, the client stalled
   * for `stallMs` or left); `tally.bytes` counts what was handed to the client. Never rejects.
   */
  async pipeTo (res: ServerResponse, start: number, end: number, stallMs: number, tally: { bytes: number }): Promise<void> {
    let at = start
    const last = end + 1
    const reader: Reader = { pos: at, res }
    this.#readers.add(reader)
    try {
      while (at < last) {
        if (res.destroyed) return
        if (this.#state === 'failed') {
          res.destroy(this.#error ?? new Error('origin body failed'))
          return
        }
        const available = Math.min(this.#filled, last)
        if (available > at) {
          const piece = this.#slice(at, available)
          at += piece.length
          reader.pos = at
          tally.bytes += piece.length
          this.#progressed()
          if (!res.write(piece) && !await drained(res, stallMs)) return
          continue
        }
        if (this.#state === 'complete') break
        await new Promise<void>(resolve => this.#waiting.push(resolve))
      }
      res.end()
    } finally {
      this.#readers.delete(reader)
      this.#progressed()
    }
  }

  /**
   * A reader that is not a client (the fleet publisher): past the buffer, the relay keeps what it has not passed
   * (`passed`). It does not set the relay's pace (the fastest client does) and does not keep a relay alive that no
   * client reads; a window behind the fastest client it is cut off, as a client is.
   */
  openTap (): BodyTap {
    const tap: BodyTap = { pos: 0, res: null, cut: false }
    this.#readers.add(tap)
    return tap
  }

  /** The tap has every byte before `pos`: the relay may let them go. */
  passed (tap: BodyTap, pos: number): void {
    tap.pos = pos
    this.#progressed()
  }

  closeTap (tap: BodyTap): void {
    this.#readers.delete(tap)
    this.#progressed()
  }

  /** Bytes [from, to) already filled and not yet let go: a view into the buffer, or a copy across the relay's pieces. */
  bytes (from: number, to: number): Buffer {
    const first = this.#slice(from, to)
    if (first.length === to - from) return first
    const pieces = [first]
    for (let at = from + first.length; at < to;) {
      const piece = this.#slice(at, to)
      if (piece.length === 0) break
      pieces.push(piece)
      at += piece.length
    }
    return Buffer.concat(pieces)
  }

  /** Past the buffer: how far the body runs ahead of its fastest client (a follower waits while a window ahead). */
  get ahead (): number {
    return this.overflowed ? this.#filled - this.#fastest() : 0
  }

  /** Resolves once at least `bytes` are filled or the body is no longer open (a reader that is not a client). */
  async whenFilled (bytes: number): Promise<void> {
    while (this.#filled < bytes && this.#state === 'open') await new Promise<void>(resolve => this.#waiting.push(resolve))
  }

  /** Bytes from `at` up to `available`, from the buffer or the relay past it. */
  #slice (at: number, available: number): Buffer {
    if (at < this.#capacity) return this.#buffer.subarray(at, Math.min(available, this.#capacity))
    let base = this.#tailBase
    for (const chunk of this.#tail) {
      if (at < base + chunk.length) return chunk.subarray(at - base, Math.min(chunk.length, available - base))
      base += chunk.length
    }
    return this.#buffer.subarray(0, 0)
  }

  #fastest (): number {
    let max = 0
    for (const r of this.#readers) if (r.res !== null && r.pos > max) max = r.pos
    return max
  }

  /**
   * A reader moved on or left. Past the buffer: a reader a window behind the fastest is cut off, what every reader has
   * passed is let go, and the origin is read again once the fastest is less than a window behind it.
   */
  #progressed (): void {
    if (!this.overflowed) return
    const fastest = this.#fastest()
    let slowest = this.#filled
    let clients = 0
    for (const r of this.#readers) {
      if (r.pos < fastest - RELAY_WINDOW_BYTES) {
        this.#readers.delete(r)
        if (r.res !== null) r.res.destroy(new ClientBehindError(RELAY_WINDOW_BYTES))
        else (r as BodyTap).cut = true
      } else {
        if (r.pos < slowest) slowest = r.pos
        if (r.res !== null) clients++
      }
    }
    while (this.#tail.length > 0 && this.#tailBase + (this.#tail[0] as Buffer).length <= slowest) this.#tailBase += (this.#tail.shift() as Buffer).length
    if (clients === 0 && this.#state === 'open') {
      // Nobody left to relay to: the origin request is let go, as a shared stream's is.
      this.fail(new Error('every client of a relayed body left'))
      this.#source?.destroy()
      return
    }
    if (this.#filled - fastest <= RELAY_WINDOW_BYTES) this.#source?.resume()
  }

  #wake (): void {
    const waiting = this.#waiting
    if (waiting.length === 0) return
    this.#waiting = []
    for (const resolve of waiting) resolve()
  }
}
