/**
 * `npm run bench:idle`: what V8's memory reducer costs a proxy that goes quiet between bursts. corral started as
 * `npm start` starts it (`--no-memory-reducer`), corral with node's default (`--memory-reducer`) and the bare node:http
 * ceiling, each on a core of its own, the load generator on another; rounds of 4 s at a fixed 15 000 req/s in turn, so each
 * server idles while the others run. Prints each server's CPU per request round by round: with the reducer, corral's
 * cost steps up for good once V8's first memory-reducing collection has run (about 100 s in). About 4 minutes.
 */
import { canPin, pinCores, startCeiling, startCorral, stopAll } from './lib.js'
import { load } from './loadgen/autocannon.js'
import { treeCpuSeconds } from './proc.js'
import { median } from './rounds.js'
import { startOrigin } from './origin.js'

const ROUNDS = Number(process.env.ROUNDS ?? 14)
const RATE = 15_000
const ROUND_S = 4

if (!canPin()) {
  process.stderr.write('bench:idle needs taskset and 2 cores\n')
  process.exit(2)
}
const origin = await startOrigin()
try {
  pinCores(true)
  const servers = [
    { name: 'ceiling', server: await startCeiling() },
    { name: 'corral (npm start)', server: await startCorral({ origin: { url: origin.url }, log: { access: false } }) },
    { name: 'corral (V8 memory reducer)', server: await startCorral({ origin: { url: origin.url }, log: { access: false } }, ['--memory-reducer']) }
  ]
  const costs = servers.map(() => [] as number[])
  for (let round = 1; round <= ROUNDS; round++) {
    const line: string[] = []
    for (const [i, { name, server }] of servers.entries()) {
      const cpu0 = treeCpuSeconds(server.pid)
      const result = await load(`${server.url}/page`, 64, ROUND_S, { overallRate: RATE })
      const us = (treeCpuSeconds(server.pid) - cpu0) * 1e6 / Math.max(1, result.requests)
      costs[i]?.push(us)
      line.push(`${name} ${us.toFixed(1)}`)
    }
    process.stdout.write(`round ${String(round).padStart(2)}: µs of server CPU per request  ${line.join('  ')}\n`)
  }
  const half = Math.floor(ROUNDS / 2)
  process.stdout.write(`\nmedian µs per request, rounds 1-${half} / ${half + 1}-${ROUNDS}:\n`)
  for (const [i, { name }] of servers.entries()) {
    const c = costs[i] ?? []
    process.stdout.write(`  ${name.padEnd(28)} ${median(c.slice(0, half)).toFixed(1)} / ${median(c.slice(half)).toFixed(1)}\n`)
  }
} finally {
  pinCores(false)
  await stopAll()
  await origin.close()
}
