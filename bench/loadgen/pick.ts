/** Which load generator drives the throughput sections: wrk when installed, autocannon in worker threads otherwise. */
import { autocannonGenerator } from './autocannon.js'
import type { LoadGenerator } from './types.js'
import { findWrk, wrkGenerator } from './wrk.js'

export type LoadgenChoice = 'auto' | 'wrk' | 'autocannon'

export function isLoadgenChoice (value: string): value is LoadgenChoice {
  return value === 'auto' || value === 'wrk' || value === 'autocannon'
}

/** `wrk` insists on wrk (an error when it is missing); `autocannon` forces the fallback, to measure it. */
export function pickLoadGenerator (choice: LoadgenChoice): LoadGenerator {
  if (choice === 'autocannon') return autocannonGenerator()
  const version = findWrk()
  if (version !== null) return wrkGenerator(version)
  if (choice === 'wrk') throw new Error('--loadgen wrk: wrk is not installed (Debian: apt-get install wrk)')
  return autocannonGenerator()
}
