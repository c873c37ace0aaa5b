import { fetchRaw, type Raw } from './compressed.js'

/**
 * The answer from the stored entry (Cache-Status `hit; ttl=`): a page that streamed while filling is stored once its
 * body is whole and coded, and until that write lands a request joins the fill's stream instead (`collapsed-streamed`).
 * Bounded: each try is a real request, none is a sleep.
 */
export async function storedHit (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  let r = await fetchRaw(url, headers, method)
  for (let i = 0; i < 100 && !/; hit; ttl=/.test(r.headers['cache-status'] ?? ''); i++) r = await fetchRaw(url, headers, method)
  return r
}
