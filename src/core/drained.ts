/**
 * core/drained: waiting for a client to take what was written, bounded by a stall deadline. Shared by every writer that
 * relays a body at the origin's pace (origin/growing-body.ts, origin/shared-stream.ts, deliver-part.ts).  [writes to
 * clients]
 */
import type { ServerResponse } from 'node:http'
import { ClientStalledError } from './errors.js'

/** Resolves true once `res` drains; false (and `res` destroyed) when it stalls for `stallMs` or closes first. */
export async function drained (res: ServerResponse, stallMs: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer)
      res.off('drain', onDrain)
      res.off('close', onClose)
      resolve(ok)
    }
    const onDrain = (): void => done(true)
    const onClose = (): void => done(false)
    const timer = setTimeout(() => {
      done(false)
      res.destroy(new ClientStalledError(stallMs))
    }, stallMs)
    res.once('drain', onDrain)
    res.once('close', onClose)
  })
}
