/**
 * Reads of one memcached item share the read already in flight for it. In a spike every connection asks for the same
 * page: with L1 off, or when its copy's cap runs out, each request was a get of its own (a promise, a deadline timer,
 * a request and a response to parse, a decode), 64 of them per round trip at 64 connections, for the same bytes.
 * A read that joins gets what memcached answered to the first, which it asked after this process's earlier writes of
 * that item: a write or delete of the item (`forget`) ends the sharing, so a read that starts after it asks again,
 * and is answered after it, as before (one connection per node, answered in order).
 */
export class ReadFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>()

  /** The read in flight for `itemKey`, or a new one from `start`. */
  read (itemKey: string, start: () => Promise<T>): Promise<T> {
    return this.joined(itemKey) ?? this.track(itemKey, start())
  }

  /**
   * The read in flight for `itemKey`, if any. With `track`, what `read` does without a `start` closure per call: a
   * read that joins (most reads of a hot page) allocates nothing.
   */
  joined (itemKey: string): Promise<T> | undefined {
    return this.#inFlight.get(itemKey)
  }

  /** `read` is the read of `itemKey` in flight until it settles (or `forget`); returns it. */
  track (itemKey: string, read: Promise<T>): Promise<T> {
    this.#inFlight.set(itemKey, read)
    const done = (): void => {
      if (this.#inFlight.get(itemKey) === read) this.#inFlight.delete(itemKey)
    }
    read.then(done, done)
    return read
  }

  /** A write or delete of `itemKey` is on its way: reads from now on ask memcached again. */
  forget (itemKey: string): void {
    this.#inFlight.delete(itemKey)
  }

  /** Reads in flight (tests). */
  get size (): number {
    return this.#inFlight.size
  }
}
