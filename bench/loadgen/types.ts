/** What every load generator hands back, so the throughput sections do not care which one drove the round. */

export interface LoadResult {
  /** The generator's own measure of how long it sent load: the round's window, without its start-up. */
  readonly durationS: number
  readonly rps: number
  readonly requests: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** Answers the client took as failed by status (autocannon: not 2xx; wrk: 400 and over, see wrk.ts). */
  readonly non2xx: number
  /** Connect, read and write errors and timeouts. */
  readonly errors: number
}

/** One round driven by a generator, with the generator's own CPU over it. */
export interface GeneratedLoad extends LoadResult {
  /** CPU seconds the generator used (its whole process tree, from /proc), NaN when unreadable. */
  readonly generatorCpuS: number
  /** The cores the generator could keep busy in this round (rounds.ts generatorCapacity). */
  readonly generatorMaxCores: number
}

export interface LoadGenerator {
  /** For logs and the results file: `wrk 4.1.0, 1 thread`, `autocannon, 2 workers`. */
  readonly label: string
  /** Short name for progress lines. */
  readonly name: 'wrk' | 'autocannon'
  /** Keep `connections` connections busy against `url` for `durationS` seconds, one request at a time on each. */
  run (url: string, connections: number, durationS: number, headers?: Readonly<Record<string, string>>): Promise<GeneratedLoad>
}
