// What test/helpers/global-setup.ts hands to every test file through `inject`.
import 'vitest'

declare module 'vitest' {
  export interface ProvidedContext {
    /** `host:port` of the memcached shared by the run, or null when it is not installed (never in CI). */
    memcached: string | null
  }
}
