/**
 * origin/body: origin failures as CorralErrors, and what to do with an origin body: read it up to a size, drain it,
 * or destroy it.  [I/O]
 */
import type { Readable } from 'node:stream'
import { errors as undiciErrors } from 'undici'
import { CorralError, OriginTimeoutError, OriginUnreachableError } from '../core/errors.js'

export function toOriginError (err: unknown): CorralError {
  if (err instanceof CorralError) return err
  if (err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError) return new OriginTimeoutError(err)
  return new OriginUnreachableError(err)
}

export type BodyRead =
  | { readonly kind: 'complete', readonly body: Buffer }
  | { readonly kind: 'overflow', readonly head: Buffer[] }

/**
 * Read a body into memory up to `maxBytes`. Past that it stops reading and hands back what it has, so the caller
 * can stream the head and the rest of the body through without storing it.
 */
export async function readBodyUpTo (body: Readable, maxBytes: number, deadlineMs = 0): Promise<BodyRead> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    // A whole-body deadline: undici's bodyTimeout bounds the gap between chunks, not a body trickled for ever.
    const timer = deadlineMs > 0
      ? setTimeout(() => {
        cleanup()
        abandon(body)
        reject(new OriginTimeoutError(new Error(`body not complete within ${deadlineMs} ms`)))
      }, deadlineMs)
      : undefined
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size > maxBytes) {
        cleanup()
        body.pause()
        resolve({ kind: 'overflow', head: chunks })
      }
    }
    const onEnd = (): void => {
      cleanup()
      resolve({ kind: 'complete', body: chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, size) })
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(toOriginError(err))
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      body.off('data', onData)
      body.off('end', onEnd)
      body.off('error', onError)
    }
    body.on('data', onData)
    body.on('end', onEnd)
    body.on('error', onError)
  })
}

/** Drain a response nobody will read, so its connection returns to the pool. */
export function discard (body: Readable): void {
  body.on('error', noop)
  body.resume()
}

/** Destroy a body nobody will read: its origin connection closes and its limiter slot is released at once. */
export function abandon (body: Readable): void {
  body.on('error', noop)
  body.destroy()
}

function noop (): void {}
