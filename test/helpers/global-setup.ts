import type { TestProject } from 'vitest/node'
import { findMemcached, startMemcached } from './memcached.js'

/**
 * One memcached for the whole run, shared by every test file (each store in a test uses its own key prefix).
 * Without memcached on PATH the memcached tests are skipped locally, but CI fails: a missing memcached there
 * would silently skip the whole L2 tier.
 */
export default async function setup (project: TestProject): Promise<() => Promise<void>> {
  if (findMemcached() === null) {
    if (process.env['CI']) {
      throw new Error('memcached is not on PATH: CI must install it (apt-get install memcached); memcached tests are never skipped in CI')
    }
    console.warn('[corral tests] memcached not found on PATH: memcached tests are skipped (install memcached to run them)')
    project.provide('memcached', null)
    return async () => {}
  }
  const memcached = await startMemcached()
  const onExit = (): void => memcached.kill()
  process.once('exit', onExit)
  project.provide('memcached', memcached.address)
  return async () => {
    process.off('exit', onExit)
    await memcached.stop()
  }
}
