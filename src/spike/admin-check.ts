/**
 * Every `--admin` is asked for its /metrics before the load starts: one that does not answer used to be found only
 * after the run ("not measured"), without saying which (issue 26, friction 6). Exit 2 names it.  [I/O]
 */
export interface AdminProblem {
  readonly admin: string
  readonly reason: string
}

/** The first --admin that does not serve corral metrics, with why; undefined when every one does. */
export async function checkAdmins (admins: readonly string[], token: string | undefined, timeoutMs = 2000): Promise<AdminProblem | undefined> {
  const problems = await Promise.all(admins.map(async (admin) => await checkAdmin(admin, token, timeoutMs)))
  return problems.find((p) => p !== undefined)
}

async function checkAdmin (admin: string, token: string | undefined, timeoutMs: number): Promise<AdminProblem | undefined> {
  const url = new URL('/metrics', admin)
  try {
    const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) })
    const text = await res.text()
    if (res.status === 401) return { admin, reason: 'answered 401: set --admin-token or CORRAL_ADMIN_TOKEN' }
    if (!res.ok) return { admin, reason: `answered ${res.status} for ${url.pathname}` }
    if (!text.includes('corral_')) return { admin, reason: 'answered, but with no corral metrics (is it a corral admin listener?)' }
    return undefined
  } catch (err) {
    const cause = (err as Error).cause
    const reason = (err as Error).name === 'TimeoutError'
      ? `no answer within ${timeoutMs} ms`
      : cause instanceof Error ? (cause as NodeJS.ErrnoException).code ?? cause.message : (err as Error).message
    return { admin, reason }
  }
}
