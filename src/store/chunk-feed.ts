/**
 * store/chunk-feed: a chunked value's bytes as its chunks arrive (chunks.ts reads a window of them at a time, in any
 * order): one buffer, filled in place, whose leading run of whole chunks may be sent before the rest is read
 * (chunk-stream.ts). One per whole read of a head version in this process, shared by every client streaming it, so
 * memory is the object's size however many read it.  [in-process state]
 */
export type FeedState = 'open' | 'whole' | 'torn' | 'failed'

export class ChunkFeed {
  /** The chunks' bytes, in order; valid up to `ready` before the read settles. */
  readonly buffer: Buffer
  /** Set once a client streams from it: a torn read then drops the head (chunks.ts), as the answer could not be a miss. */
  streamed = false
  readonly #chunkBytes: number
  readonly #have: Uint8Array
  #run = 0
  #state: FeedState = 'open'
  #waiting: Array<() => void> = []

  constructor (totalBytes: number, chunkCount: number, chunkBytes: number) {
    // allocUnsafeSlow: large and long-lived (it becomes the entry's body, which L1 keeps); never the shared pool.
    this.buffer = Buffer.allocUnsafeSlow(totalBytes)
    this.#chunkBytes = chunkBytes
    this.#have = new Uint8Array(chunkCount)
  }

  get state (): FeedState {
    return this.#state
  }

  /** Bytes of the leading run of chunks in place. */
  get ready (): number {
    return Math.min(this.#run * this.#chunkBytes, this.buffer.length)
  }

  /** Chunk `index`, its length already checked. */
  put (index: number, chunk: Buffer): void {
    chunk.copy(this.buffer, index * this.#chunkBytes)
    this.#have[index] = 1
    const before = this.#run
    while (this.#run < this.#have.length && this.#have[this.#run] === 1) this.#run++
    if (this.#run !== before) this.#wake()
  }

  settle (state: Exclude<FeedState, 'open'>): void {
    this.#state = state
    this.#wake()
  }

  /** Resolves once `bytes` are ready or the read settled. */
  async whenReady (bytes: number): Promise<void> {
    while (this.ready < bytes && this.#state === 'open') await new Promise<void>(resolve => this.#waiting.push(resolve))
  }

  #wake (): void {
    const waiting = this.#waiting
    if (waiting.length === 0) return
    this.#waiting = []
    for (const resolve of waiting) resolve()
  }
}
