// negotiator 1.x ships no types (@types/negotiator describes 0.6); only the part corral calls.
declare module 'negotiator' {
  interface NegotiatorRequest { headers: Record<string, string | string[] | undefined> }
  class Negotiator {
    constructor (request: NegotiatorRequest)
    encodings (available?: readonly string[], options?: { preferred?: readonly string[] }): string[]
  }
  export default Negotiator
}
