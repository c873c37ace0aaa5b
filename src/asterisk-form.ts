/**
 * `OPTIONS *` (RFC 9110 §9.3.7, asterisk-form per RFC 9112 §3.2.4): a question about the server the client talks to,
 * not about a resource, often a load balancer's ping. corral answers it itself rather than forwarding it: undici (the
 * origin client) cannot send an asterisk-form target (its paths must start with `/`), which made every such probe a
 * 502 and an "origin unreachable" warning, and the origin's own methods are answered per path by a forwarded
 * `OPTIONS /path`. Like the health path, it is neither logged nor counted.  [I/O, one write]
 */
import type { ServerResponse } from 'node:http'

/** What corral itself does with a method: GET and HEAD are cached, the rest forwarded (unsafe ones invalidate). */
const ALLOW = 'GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE'

/**
 * A request whose target starts with `*`: 200 with Allow for `OPTIONS *`; any other method, and any other target
 * starting with `*` (`*x`, `**`, `*?x`: neither asterisk-form nor origin-form, RFC 9112 §3.2), names no resource, so
 * 400. Before, those targets reached the origin and came back 502, counted as origin errors: any client could fire
 * the origin-error alert (issue 23).
 */
export function answerAsteriskForm (res: ServerResponse, target: string): void {
  if (target === '*' && res.req.method === 'OPTIONS') {
    res.writeHead(200, ['allow', ALLOW, 'content-length', '0', 'cache-control', 'no-store'])
  } else {
    res.writeHead(400, ['content-type', 'text/plain; charset=utf-8', 'content-length', '12', 'connection', 'close'])
    res.write('bad request\n')
  }
  res.end()
}
