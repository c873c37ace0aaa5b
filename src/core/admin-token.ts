/** The admin token check, shared by the admin listener and the X-Corral-Debug header. Constant-time compare. */
import { timingSafeEqual } from 'node:crypto'

/** true when no token is configured (the caller decides what that allows) or the presented one matches. */
export function tokenMatches (expected: string | undefined, presented: string | undefined): boolean {
  if (expected === undefined) return true
  if (presented === undefined) return false
  const a = Buffer.from(expected)
  const b = Buffer.from(presented)
  return a.length === b.length && timingSafeEqual(a, b)
}
