/**
 * node:http's request and response as a hit uses them, stubbed, for the benches that count what corral itself costs
 * per hit (bench/micro.ts, bench/micro-memcached.ts, bench/hit-instructions.ts): node's parsing and writev are the rest.
 */
export const stubSocket = { writableLength: 0, remoteAddress: '127.0.0.1' }

export class StubResponse {
  statusCode = 0
  writableEnded = false
  readonly socket = stubSocket
  constructor (readonly req: unknown) {}
  writeHead (status: number): this { this.statusCode = status; return this }
  end (): void { this.writableEnded = true }
  once (): this { return this }
  setTimeout (): this { return this }
}
