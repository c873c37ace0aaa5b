/**
 * client-gone: a signal that fires when a client leaves before its answer is complete, so the pass forwarding its
 * request aborts the origin request at once. Before, a client that left mid-body (or while the origin was thinking)
 * left its origin request running until the origin's own timeout (issue 23: 326 s against a node origin, for ever
 * against one without a read timeout), holding an origin connection each. A fill has no such signal: it runs on for
 * its waiters.  [I/O]
 */
import type { ServerResponse } from 'node:http'
import { ClientGoneError } from './core/errors.js'

/** Aborted with ClientGoneError when `res` closes unfinished (the client's socket closed or was destroyed). */
export function clientGoneSignal (res: ServerResponse): AbortSignal {
  const controller = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new ClientGoneError())
  })
  return controller.signal
}
