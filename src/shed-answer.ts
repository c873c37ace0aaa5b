/**
 * shed-answer: what a shed request is answered with, encoded once per config load: a route's `whenShed` (status,
 * Retry-After, body or page file) as ready-to-write bytes.
 */
import { extname } from 'node:path'
import schema from './config/schema.json' with { type: 'json' }
import type { WhenShedConfig } from './config/types.js'
import type { ShedAnswer } from './core/shed-reason.js'

export type { ShedAnswer } from './core/shed-reason.js'

const DEFAULT_BODY = 'Service temporarily unavailable\n'
// The default route answers like a route with an empty whenShed; schema.json stays the one home of those defaults.
const WHEN_SHED_SCHEMA = schema.properties.routes.items.properties.whenShed.properties
export const DEFAULT_WHEN_SHED: WhenShedConfig = { status: WHEN_SHED_SCHEMA.status.default, retryAfter: WHEN_SHED_SCHEMA.retryAfter.default }

const TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml'
}

function guessContentType (body: Buffer, file: string | undefined): string {
  const byExtension = file === undefined ? undefined : TYPES_BY_EXTENSION[extname(file).toLowerCase()]
  if (byExtension !== undefined) return byExtension
  return body.toString('latin1', 0, 64).trimStart().startsWith('<') ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8'
}

export function makeShedAnswer (whenShed: WhenShedConfig, page: Buffer | undefined): ShedAnswer {
  const body = page ?? Buffer.from(whenShed.body ?? DEFAULT_BODY)
  const contentType = whenShed.contentType ?? guessContentType(body, whenShed.file)
  return Object.freeze({
    status: whenShed.status,
    headers: Object.freeze([
      'retry-after', String(whenShed.retryAfter),
      'content-type', contentType,
      'content-length', String(body.length),
      // A shed answer is about this moment's load: no browser or CDN may keep it.
      'cache-control', 'no-store',
      'x-cache', 'SHED'
    ]),
    body
  })
}
