#!/usr/bin/env node
/**
 * cli: `corral serve | check | spike | purge | --version`. The only module that calls process.exit.
 *
 * `corral serve` started by node without a word about V8's memory reducer (`npx corral`, a global install, a unit
 * file) runs itself again once with `--no-memory-reducer` (ops/runtime.ts says why and when). This file imports
 * nothing heavy before that decision, so the first process costs only a node start-up.
 */
import cluster from 'node:cluster'
import { respawnArgs } from './ops/runtime.js'

async function run (argv: string[]): Promise<number> {
  const again = respawnArgs(process.execArgv, process.argv, process.env, cluster.isWorker)
  if (again !== null) {
    const { respawn } = await import('./ops/respawn.js')
    return await respawn(again)
  }
  const { main } = await import('./ops/commands.js')
  return await main(argv)
}

// Exit explicitly: a cluster worker's IPC channel (and any handle a library leaves) would keep the process alive.
run(process.argv.slice(2)).then((code) => {
  process.exit(code)
}, (err: unknown) => {
  process.stderr.write(`corral: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
