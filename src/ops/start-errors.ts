/**
 * What an operator reads when `corral serve` cannot start for a reason outside corral: a port taken, a port below
 * 1024 without the right, an address this host does not have. One line naming the address, no stack trace. Pure.
 */
const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use (EADDRINUSE): another process listens there; stop it or pick another port',
  EACCES: 'permission denied (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE; pick a port above 1023',
  EADDRNOTAVAIL: 'address not available (EADDRNOTAVAIL): this host has no such address; check listen.host / admin.host',
  EPERM: 'operation not permitted (EPERM)'
}

/** The one-line message for a listen failure, or null when `err` is something else (a bug: its stack is wanted). */
export function describeStartError (err: unknown): string | null {
  const e = err as NodeJS.ErrnoException & { address?: string, port?: number }
  if (e === null || typeof e !== 'object' || e.syscall !== 'listen' || e.code === undefined) return null
  const reason = LISTEN_ERRORS[e.code] ?? e.code
  const where = e.address === undefined ? '' : e.address.includes(':') ? `[${e.address}]:${e.port ?? ''}` : `${e.address}:${e.port ?? ''}`
  return `cannot listen on ${where}: ${reason}`
}
