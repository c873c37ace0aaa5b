/**
 * The denominator: a bare node:http server answering the same 1 KB page, with the same headers corral writes on a
 * hit (the origin's stored headers, then age, x-cache, cache-status), from memory. PORT sets the port; WORKERS=N runs
 * N cluster workers sharing the port (the multi-core ceiling). Imports only bench/origin.ts, so a worker starts light.
 */
import cluster from 'node:cluster'
import { createServer } from 'node:http'
import { PAGE, pageHeaders } from './origin.js'

const port = Number(process.env.PORT)
const workers = Number(process.env.WORKERS ?? '1')

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork()
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill()
    process.exit(0)
  })
} else {
  const date = new Date().toUTCString()
  const headers = [
    ...pageHeaders('public, max-age=3600', PAGE.length), 'date', date, 'via', '1.1 corral',
    'age', '1', 'x-cache', 'HIT', 'cache-status', 'corral; hit; ttl=3599'
  ]
  createServer((_req, res) => {
    res.writeHead(200, headers)
    res.end(PAGE)
  }).listen(port, '127.0.0.1')
  // A clean exit on SIGTERM, so `node --cpu-prof` writes its profile (bench/profile-hit.ts).
  process.once('SIGTERM', () => process.exit(0))
}
