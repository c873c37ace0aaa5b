/**
 * origin/growing-body: the body of a fill while it arrives, read by every client of that fill at its own pace
 * (Varnish streams a busy object to its waiting list the same way). The fill appends what the origin sends into one
 * buffer of the declared length, which becomes the stored entry's body when complete: no copy per client, no copy at
 * the end, memory bounded by the object's size whatever the number of readers. A reader that falls behind only reads
 * older bytes of the same buffer; one that takes nothing for the stall deadline is cut off, as any answer is
 * (deliver.ts limitSendStall, pass.ts). If the origin fails mid-body every reader's connection is destroyed: a client
 * sees a reset before the declared length, never a short body that looks whole.  [in-process state; writes to clients]
 */
import type { ServerResponse } from 'node:http'
import { ClientStalledError } from '../core/errors.js'

type State = 'open' | 'complete' | 'failed'

export class GrowingBody {
  /** The whole body once complete; bytes [0, filled) are valid before that. */
  readonly buffer: Buffer
  #filled = 0
  #state: State = 'open'
  #error: Error | null = null
  /** Readers waiting for more bytes (or the end); called once each, then dropped. */
  #waiting: Array<() => void> = []

  constructor (length: number) {
    this.buffer = Buffer.allocUnsafeSlow(length)
  }

  get length (): number {
    return this.buffer.length
  }

  get filled (): number {
    return this.#filled
  }

  get state (): State {
    return this.#state
  }

  /** Every byte is kept until the end, so any client may join at any time. */
  canJoin (_start: number): boolean {
    return this.#state !== 'failed'
  }

  /** false when the chunk would pass the declared length (the origin sent more than it said): the body failed. */
  append (chunk: Buffer): boolean {
    if (this.#state !== 'open') return false
    if (this.#filled + chunk.length > this.buffer.length) {
      this.fail(new Error(`origin sent more than its Content-Length of ${this.buffer.length}`))
      return false
    }
    chunk.copy(this.buffer, this.#filled)
    this.#filled += chunk.length
    this.#wake()
    return true
  }

  /** The origin's body ended: complete if every declared byte came, else failed. */
  end (): boolean {
    if (this.#state !== 'open') return this.#state === 'complete'
    if (this.#filled !== this.buffer.length) {
      this.fail(new Error(`origin body ended after ${this.#filled} of ${this.buffer.length} bytes`))
      return false
    }
    this.#state = 'complete'
    this.#wake()
    return true
  }

  fail (err: Error): void {
    if (this.#state !== 'open') return
    this.#state = 'failed'
    this.#error = err
    this.#wake()
  }

  /**
   * Write bytes [start, end] (inclusive) to `res` as they arrive, with backpressure, then end it. Resolves when the
   * response is ended or destroyed (the origin failed, the client stalled for `stallMs` or left); `tally.bytes` counts
   * what was handed to the client. Never rejects.
   */
  async pipeTo (res: ServerResponse, start: number, end: number, stallMs: number, tally: { bytes: number }): Promise<void> {
    let at = start
    const last = end + 1
    while (at < last) {
      if (res.destroyed) return
      if (this.#state === 'failed') {
        res.destroy(this.#error ?? new Error('origin body failed'))
        return
      }
      const available = Math.min(this.#filled, last)
      if (available > at) {
        const piece = this.buffer.subarray(at, available)
        at = available
        tally.bytes += piece.length
        if (!res.write(piece) && !await drained(res, stallMs)) return
        continue
      }
      await new Promise<void>(resolve => this.#waiting.push(resolve))
    }
    res.end()
  }

  /** Resolves once at least `bytes` are filled or the body is no longer open (a reader that is not a client). */
  async whenFilled (bytes: number): Promise<void> {
    while (this.#filled < bytes && this.#state === 'open') await new Promise<void>(resolve => this.#waiting.push(resolve))
  }

  #wake (): void {
    const waiting = this.#waiting
    if (waiting.length === 0) return
    this.#waiting = []
    for (const resolve of waiting) resolve()
  }
}

/** Resolves true once `res` drains; false (and `res` destroyed) when it stalls for `stallMs` or closes first. */
export async function drained (res: ServerResponse, stallMs: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer)
      res.off('drain', onDrain)
      res.off('close', onClose)
      resolve(ok)
    }
    const onDrain = (): void => done(true)
    const onClose = (): void => done(false)
    const timer = setTimeout(() => {
      done(false)
      res.destroy(new ClientStalledError(stallMs))
    }, stallMs)
    res.once('drain', onDrain)
    res.once('close', onClose)
  })
}
