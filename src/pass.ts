/**
 * pass: send a request on to the origin without storing its answer (uncacheable methods and responses, hit-for-pass
 * URLs, bodies over cache.maxObjectBytes): method, target and body as the client sent them. The answer is streamed
 * to the client by deliver-stream.ts.  [I/O]
 */
import type { IncomingMessage } from 'node:http'
import { toOriginError } from './origin/body.js'
import type { OriginClient, OriginResponse } from './origin/types.js'
import { CorralError } from './core/errors.js'

export type ForwardOutcome =
  | { readonly kind: 'stream', readonly response: OriginResponse }
  | { readonly kind: 'error', readonly error: CorralError }

/** Send the client's request on to the origin as it is (method, target, body); never rejects. */
export async function forward (
  origin: OriginClient, req: IncomingMessage, path: string, headers: Record<string, string | string[]>, group: string,
  signal?: AbortSignal
): Promise<ForwardOutcome> {
  const method = req.method ?? 'GET'
  const hasBody = method !== 'GET' && method !== 'HEAD'
  try {
    return { kind: 'stream', response: await origin.request({ method, path, headers, body: hasBody ? req : null, group, signal }) }
  } catch (err) {
    return { kind: 'error', error: err instanceof CorralError ? err : toOriginError(err) }
  }
}
