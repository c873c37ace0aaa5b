// hashring 3 ships no types; this covers only what src/store/ring.ts uses. It is CommonJS: Node's ESM loader
// hands `module.exports` over as the default export, which `export default` states without needing
// allowSyntheticDefaultImports (tsconfig keeps esModuleInterop off).
declare module 'hashring' {
  interface HashRingOptions {
    'vnode count'?: number
    compatibility?: 'ketama' | 'hash_ring'
    replicas?: number
    'max cache size'?: number
    'default port'?: number
  }

  class HashRing {
    constructor (servers: readonly string[] | Readonly<Record<string, number | { weight?: number, vnodes?: number }>>, algorithm?: string, options?: HashRingOptions)
    /** The server for a key, or undefined when the ring is empty. */
    get (key: string): string | undefined
    has (server: string): boolean
    reset (): this
    end (): this
  }

  export default HashRing
}
