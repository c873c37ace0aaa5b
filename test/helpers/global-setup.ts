import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'
import { findMemcached, startMemcached } from './memcached.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Tests that spawn the real CLI run it through tsx. On a fresh machine tsx's cache is empty, and each process (a
 * cluster's primary and workers at once, alongside other test files) would compile the whole CLI itself and start an
 * esbuild service of its own: slow enough to miss the tests' deadlines. One `corral check` first fills the cache for
 * the CLI's whole static import graph.
 */
function warmCliCache (): void {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'check', '--config', 'proxy.config.json'], { cwd: ROOT, encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`warming the CLI (corral check through tsx) failed:\n${run.stdout}${run.stderr}`)
}

/**
 * One memcached for the whole run, shared by every test file (each store in a test uses its own key prefix).
 * Without memcached on PATH the memcached tests are skipped locally, but CI fails: a missing memcached there
 * would silently skip the whole L2 tier.
 */
export default async function setup (project: TestProject): Promise<() => Promise<void>> {
  warmCliCache()
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
