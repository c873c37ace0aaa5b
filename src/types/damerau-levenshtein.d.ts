// damerau-levenshtein 1 ships no types; this covers only what src/config/did-you-mean.ts uses. CommonJS: Node's ESM
// loader hands `module.exports` (the function) over as the default export.
declare module 'damerau-levenshtein' {
  interface Distance {
    /** Edits (insert, delete, substitute, swap of neighbours) from one string to the other. */
    readonly steps: number
    readonly relative: number
    readonly similarity: number
  }
  export default function damerauLevenshtein (a: string, b: string, limit?: number): Distance
}
