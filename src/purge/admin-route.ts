/**
 * purge/admin-route: `POST /purge` on the admin listener (ops/admin.ts dispatches here). The query becomes an order
 * (purge/order.ts); the answer is JSON: what was asked, hard or soft, entries touched here, and `"fleet": true` when
 * the records went through memcached.  [I/O: the answer]
 */
import { ConfigError } from '../core/errors.js'
import { parsePurgeQuery, type PurgeOrder, type PurgeReport } from './order.js'

export type PurgeAnswer = { readonly status: 200, readonly body: PurgeReport } | { readonly status: 400, readonly body: { readonly error: string } }

export async function answerPurge (params: URLSearchParams, purge: (order: PurgeOrder) => Promise<PurgeReport>): Promise<PurgeAnswer> {
  try {
    return { status: 200, body: await purge(parsePurgeQuery(params)) }
  } catch (err) {
    if (err instanceof ConfigError) return { status: 400, body: { error: err.message } }
    throw err
  }
}
