/** How many origin servers are up, over every group: for the health answers (a probe, never a request). Pure. */
export function countUp (groups: Record<string, ReadonlyArray<{ readonly state: string }>>): { up: number, total: number } {
  let up = 0
  let total = 0
  for (const servers of Object.values(groups)) {
    for (const server of servers) {
      total++
      if (server.state === 'up') up++
    }
  }
  return { up, total }
}

/** The load balancer's health body: "ok", or "ok" with a word when no origin server is up (still 200: the cache serves). */
export function healthText (groups: Record<string, ReadonlyArray<{ readonly state: string }>>): string {
  const { up, total } = countUp(groups)
  return total > 0 && up === 0 ? `ok: no origin server is up (0 of ${total}); serving from cache only\n` : 'ok\n'
}
