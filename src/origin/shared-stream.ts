/**
 * origin/shared-stream: one origin answer too large to store (over cache.maxObjectBytes) relayed to every client
 * that asked for it while it was being fetched, from the one origin request. Only a window of it is kept in memory:
 * the origin is paused while it is WINDOW_BYTES ahead of the fastest client (so one slow client alone is served with
 * backpressure, as a pass is), and a client that falls WINDOW_BYTES behind the fastest is cut off (its connection
 * destroyed before the declared length: it retries, and gets its own fetch). A client arriving once the start has been
 * let go cannot join: it gets its own fetch. When every client has left, the origin request is abandoned.
 *   [in-process state; reads the origin body, writes to clients]
 */
import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { ClientBehindError } from '../core/errors.js'
import { drained } from '../core/drained.js'

/**
 * The window: the origin runs at most this far ahead of the fastest client, the slowest at most this far behind it, so
 * one relay holds about twice this. 8 MiB is about 0.7 s of a 100 Mb/s client: a client that far behind the others
 * is on another kind of link and is better served by a fetch of its own than by holding the fastest one back.
 */
export const WINDOW_BYTES = 8 * 1024 * 1024

interface Reader { pos: number, readonly res: ServerResponse }

export class SharedStream {
  readonly length: number
  readonly #source: Readable
  #chunks: Buffer[] = []
  /** Absolute offset of #chunks[0]. */
  #base = 0
  #filled = 0
  #state: 'open' | 'complete' | 'failed' = 'open'
  #error: Error | null = null
  readonly #readers = new Set<Reader>()
  #everJoined = false
  #waiting: Array<() => void> = []
  readonly #done: Promise<void>
  #resolveDone: () => void = () => {}

  /** `joinTimeoutMs`: with no client joined by then (a HEAD leader, a client gone at once), the origin is let go. */
  constructor (source: Readable, length: number, joinTimeoutMs: number) {
    this.#source = source
    this.length = length
    setTimeout(() => {
      if (this.#everJoined || this.#state !== 'open') return
      this.fail(new Error('no client joined a shared origin stream'))
      source.on('error', () => {})
      source.destroy()
      this.#resolveDone()
    }, joinTimeoutMs).unref()
    this.#done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve
      source.on('data', (chunk: Buffer) => {
        this.#chunks.push(chunk)
        this.#filled += chunk.length
        if (this.#filled > length) {
          this.fail(new Error(`origin sent more than its Content-Length of ${length}`))
          source.destroy()
          return
        }
        this.#trim()
        this.#wake()
      })
      source.once('end', () => {
        if (this.#filled === length) {
          this.#state = 'complete'
          this.#wake()
          resolve()
        } else {
          this.fail(new Error(`origin body ended after ${this.#filled} of ${length} bytes`))
          reject(this.#error)
        }
      })
      source.once('error', (err: Error) => {
        this.fail(err)
        reject(err)
      })
      // Destroyed without an error (by whatever else): the fill must still end, or its flight and lease never would.
      source.once('close', () => {
        if (this.#state === 'open') this.fail(new Error('origin body closed early'))
        if (this.#state === 'complete') resolve()
        else reject(this.#error)
      })
    })
    this.#done.catch(() => {})
  }

  /**
   * Resolves when the origin body ended whole, or every client left (nobody was owed the rest: not an origin
   * failure); rejects with the origin's error.
   */
  get done (): Promise<void> {
    return this.#done
  }

  /** A client can join while the first byte it wants is still held. */
  canJoin (start: number): boolean {
    return this.#state !== 'failed' && start >= this.#base
  }

  fail (err: Error): void {
    if (this.#state !== 'open') return
    this.#state = 'failed'
    this.#error = err
    this.#chunks = []
    this.#wake()
  }

  /** As GrowingBody.pipeTo: bytes [start, end] to `res` as they arrive; never rejects. */
  async pipeTo (res: ServerResponse, start: number, end: number, stallMs: number, tally: { bytes: number }): Promise<void> {
    if (!this.canJoin(start)) {
      res.destroy(new Error('shared stream moved past the start of this request'))
      return
    }
    const reader: Reader = { pos: start, res }
    this.#readers.add(reader)
    this.#everJoined = true
    try {
      const last = end + 1
      while (reader.pos < last) {
        if (res.destroyed) return
        if (this.#state === 'failed' || reader.pos < this.#base) {
          res.destroy(this.#error ?? new Error('client fell too far behind a shared origin stream'))
          return
        }
        const piece = this.#slice(reader.pos, last)
        if (piece !== null) {
          reader.pos += piece.length
          tally.bytes += piece.length
          this.#trim()
          if (!res.write(piece) && !await drained(res, stallMs)) return
          continue
        }
        await new Promise<void>(resolve => this.#waiting.push(resolve))
      }
      res.end()
    } finally {
      this.#readers.delete(reader)
      this.#trim()
      // Nobody left to read what the origin still sends: release the origin connection now.
      if (this.#readers.size === 0 && this.#state === 'open') {
        this.fail(new Error('every client of a shared origin stream left'))
        this.#source.on('error', () => {})
        this.#source.destroy()
        this.#resolveDone()
      }
    }
  }

  /** Bytes from `pos` (up to `last`) held now, as one view; null when none have arrived yet. */
  #slice (pos: number, last: number): Buffer | null {
    let at = this.#base
    for (const chunk of this.#chunks) {
      const next = at + chunk.length
      if (pos < next) return chunk.subarray(pos - at, Math.min(chunk.length, last - at))
      at = next
    }
    return null
  }

  /** Drops what every reader has passed, cuts off readers a window behind, and paces the origin to the fastest. */
  #trim (): void {
    if (this.#state === 'failed') return
    let slowest = this.#filled
    let fastest = 0
    for (const r of this.#readers) fastest = Math.max(fastest, r.pos)
    for (const r of this.#readers) {
      // Measured from the fastest client, not from what has arrived: the origin overshoots its pause by a read, and
      // the fastest client (one alone, say) must never be cut off for that.
      if (r.pos < fastest - WINDOW_BYTES) {
        // A window behind: cut off now (its loop, waiting on a drain, sees the response destroyed and leaves).
        this.#readers.delete(r)
        r.res.destroy(new ClientBehindError(WINDOW_BYTES))
        continue
      }
      slowest = Math.min(slowest, r.pos)
    }
    // Before the first client joins, everything from the start is kept (the origin is paused at a window).
    if (this.#everJoined) {
      while (this.#chunks.length > 0 && this.#base + (this.#chunks[0] as Buffer).length <= slowest) {
        this.#base += (this.#chunks.shift() as Buffer).length
      }
    }
    const ahead = this.#filled - (this.#everJoined ? fastest : 0)
    if (ahead >= WINDOW_BYTES) this.#source.pause()
    else if (ahead < WINDOW_BYTES / 2 && this.#source.isPaused()) this.#source.resume()
  }

  #wake (): void {
    const waiting = this.#waiting
    if (waiting.length === 0) return
    this.#waiting = []
    for (const resolve of waiting) resolve()
  }
}
