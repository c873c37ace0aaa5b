/** target: a request target read as path, query and host, for the cache key, purges and route matching. */
/**
 * Path and query of a request target. Absolute-form (`GET http://h/p`, RFC 9112 §3.2.2) is split by hand, not by
 * `new URL`, so its path is kept byte for byte as a client would send it in origin-form (a purge by absolute URL must
 * name the same key a request did).
 */
export function splitTarget (url: string): { path: string, query: string, host: string | undefined } {
  let target = url
  let host: string | undefined
  if (!target.startsWith('/')) {
    const absolute = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(target)
    if (absolute !== null) {
      host = absolute[1]
      target = absolute[2] === '' || absolute[2] === undefined ? '/' : absolute[2]
      if (!target.startsWith('/')) target = '/' + target
    } else {
      target = '/' + target
    }
  }
  const q = target.indexOf('?')
  return q === -1
    ? { path: target, query: '', host }
    : { path: target.slice(0, q), query: target.slice(q + 1), host }
}

/** A Host as keys spell it: lower-case, without `:80` or a trailing dot. Fills send the origin this same spelling. */
export function normalizeHost (host: string | undefined): string {
  if (host === undefined) return ''
  let h = host.toLowerCase()
  if (h.endsWith(':80')) h = h.slice(0, -3)
  if (h.endsWith('.')) h = h.slice(0, -1)
  return h
}
