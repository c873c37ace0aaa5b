/** The only module that reads the system time; everything else takes a Clock (tests pass their own). */
export interface Clock {
  now (): number
}

export const systemClock: Clock = { now: Date.now }
