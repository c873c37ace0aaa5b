/**
 * purge/invalidate: taking one URL's stored page out of service, where it is stored. An unsafe request's success makes
 * the page stale (RFC 9111 §4.4), a HEAD freshens or stales it (§4.3.5), a hard URL purge deletes it (soft purges and
 * tag or prefix purges are records: purge/bans.ts). Each forgets the URL's hit-for-pass memory: its next answer must
 * be asked for again.  [I/O: the cache in force]
 */
import type { CacheStore } from '../store/types.js'
import type { Logger } from '../core/log.js'
import { ConfigError } from '../core/errors.js'
import { isPromise } from '../store/types.js'
import { HostNormalizer, resolveTarget, type KeyOptions } from '../key.js'
import { splitTarget } from '../core/target.js'
import { decideInvalidation } from '../policy/invalidate.js'
import { decideHeadUpdate } from '../policy/revalidate.js'
import { decideStorable, type StoreOptions } from '../policy/storable.js'
import { makeEntry } from '../core/make-entry.js'
import type { HeaderRecord } from '../core/headers.js'
import { makeStale } from './stale.js'

export interface InvalidateContext {
  readonly store: CacheStore
  /** The wiring's hit-for-pass memory (coalesce/hit-for-pass.ts), handed in: invalidation only forgets a URL. */
  readonly hitForPass: { forget: (primaryKey: string) => void }
  readonly logger: Logger
}

/**
 * Invalidate by making stale (purge/stale.ts), not deleting: the next request revalidates through one coalesced fetch
 * and may still fall back on the old copy under stale-if-error; a delete would leave a burst nothing to stand on.
 * A Vary index is deleted instead (its variants cannot be enumerated; a new epoch orphans them).
 */
export async function invalidateKey (ctx: InvalidateContext, primaryKey: string, now: number, keepStaleSeconds: number): Promise<void> {
  ctx.hitForPass.forget(primaryKey)
  const { store } = ctx
  try {
    const found = store.get(primaryKey)
    const record = isPromise(found) ? await found : found
    if (record === undefined) return
    if (record.kind === 'vary') {
      await store.delete(primaryKey)
      return
    }
    const ttlMs = Math.max(1000, record.staleIfErrorUntil - now) + keepStaleSeconds * 1000
    await store.set(primaryKey, makeStale(record, now, 0), ttlMs)
  } catch (err) {
    ctx.logger.warn({ err }, 'store update failed')
  }
}

/** An unsafe request and the origin's answer to it: what RFC 9111 §4.4 invalidation reads. */
export interface UnsafeAnswer {
  readonly method: string
  readonly status: number
  /** The request target as received. */
  readonly target: string
  readonly host: string
  readonly headers: HeaderRecord
}

/** RFC 9111 §4.4: mark stale the target URI and the same-origin Location / Content-Location URIs (policy/invalidate.ts). */
export async function invalidateAfterUnsafe (
  ctx: InvalidateContext, answer: UnsafeAnswer, options: KeyOptions, now: number, keepStaleSeconds: number
): Promise<void> {
  const uris = decideInvalidation({
    method: answer.method,
    status: answer.status,
    target: answer.target,
    host: answer.host,
    location: answer.headers.location,
    contentLocation: answer.headers['content-location'],
    scheme: 'http'
  })
  for (const uri of uris) {
    let key: string
    try {
      key = purgeKeyOf(uri.target, uri.host === '' ? undefined : uri.host, options)
    } catch {
      continue
    }
    await invalidateKey(ctx, key, now, keepStaleSeconds)
  }
}

/**
 * RFC 9111 §4.3.5: a 200 to a HEAD that reached the origin (a pass) says what the stored GET would look like now:
 * when its validators and length agree, the stored response takes its headers and freshness; otherwise it is marked
 * stale (policy/revalidate.ts decideHeadUpdate). A Vary index is left alone (the HEAD names no variant).
 */
export async function freshenFromHead (
  ctx: InvalidateContext, primaryKey: string, requestHeaders: HeaderRecord, status: number, headers: HeaderRecord, now: number, options: StoreOptions
): Promise<void> {
  if (status !== 200) return
  try {
    const found = ctx.store.get(primaryKey)
    const record = isPromise(found) ? await found : found
    if (record?.kind !== 'entry') return
    const update = decideHeadUpdate(record, status, headers)
    const verdict = update.kind === 'update'
      // Judged for the request that got it: an answer to Authorization updates a shared copy only when it could have
      // been shared itself (§3.5), so one user's fields never reach everyone's page.
      ? decideStorable({ method: 'GET', url: primaryKey, headers: requestHeaders }, { status: record.status, headers: update.headers }, now, options)
      : null
    if (update.kind === 'stale' || verdict === null || !verdict.storable) return await invalidateKey(ctx, primaryKey, now, options.keepStaleSeconds)
    const rebuilt = makeEntry(record.key, record.status, update.headers, record.body, verdict.deadlines)
    await ctx.store.set(primaryKey, { ...rebuilt, requestedAt: now, tags: record.tags }, verdict.ttlMs)
  } catch (err) {
    ctx.logger.warn({ err }, 'store update failed')
  }
}

/**
 * A hard URL purge: delete the URL's record where it is stored, memcached included. Its entries left L1 with the purge
 * record's sweep (purge/purger.ts); this takes the Vary index (which orphans every variant) and the shared copy.
 */
export async function deleteUrl (ctx: InvalidateContext, primaryKey: string): Promise<void> {
  ctx.hitForPass.forget(primaryKey)
  try {
    await ctx.store.delete(primaryKey)
  } catch (err) {
    ctx.logger.warn({ err }, 'store delete failed')
  }
}

/**
 * The key a purge names: an absolute URL (`http://host/path?q`), or a path with the host given apart. Built the way a
 * request's key is (key.ts resolveTarget), Host checks included, so a purge names exactly what a request filed.
 */
export function purgeKeyOf (url: string, host: string | undefined, options: KeyOptions): string {
  const absoluteHost = splitTarget(url).host
  if (absoluteHost === undefined && host === undefined && options.includeHost) {
    throw new ConfigError('url', 'a path-only purge needs ?host=<host> (cache keys include the host), or give an absolute URL')
  }
  const target = resolveTarget(url, host ?? absoluteHost, options, new HostNormalizer())
  if (target === null) throw new ConfigError(host === undefined ? 'url' : 'host', 'not a valid host, or the URL names another host than ?host=')
  return target.primaryKey
}
