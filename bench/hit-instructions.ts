/**
 * `node --import tsx bench/hit-instructions.ts [--root DIR] [--hits N] [--log]`: machine instructions per L1 hit
 * through Pipeline.handle (node:http stubbed, as bench/micro.ts does), counted by valgrind's callgrind. On 2 shared
 * cores a nanosecond figure moves ±15% from run to run; an instruction count does not, so a 3% regression shows.
 *
 * One run under callgrind: a warm-up (so every function on the path is optimised), then N hits between two calls
 * that nothing else makes (os.loadavg, os.uptime): callgrind zeroes its counters at the first and dumps them at the
 * second, so start-up and warm-up are left out; garbage collection and optimising compiles are reported apart.
 * `--root` counts another checkout (a baseline: its src/ is imported, with its node_modules). About two minutes per
 * run on this machine.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir, uptime } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { StubResponse, stubPageEntry, stubSocket } from './stub-http.js'

const WARMUP_HITS = 100_000

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: resolve(import.meta.dirname, '..') },
    hits: { type: 'string', default: '200000' },
    log: { type: 'boolean', default: false },
    /** Inner mode, under callgrind: the hits to run after the warm-up. */
    run: { type: 'string' }
  },
  strict: true
})
const root = resolve(values.root)

async function count (): Promise<void> {
  const n = Number(values.hits)
  if (!(n > 0 && n <= 2_000_000)) throw new Error('--hits: 1 to 2000000')
  const { total, gc } = callgrind(n)
  process.stdout.write(`${root}${values.log ? ' (access log on)' : ''}: ${((total - gc) / n).toFixed(0)} instructions per hit, ` +
    `${(total / n).toFixed(0)} with GC and compiler (${n} hits)\n`)
}

/**
 * Scavenges and optimising compiles fall in the counted window or not, by chance: a few of them move a 100k-hit count
 * by ±100 instructions per hit. They are counted apart (by the native function's name) and left out of the figure.
 */
const GC_OR_COMPILER = /Scaveng|IterateObjectCache|Heap|Evacuat|Sweep|GCTracer|MemoryAllocator|SemiSpace|compiler::|Marking|Concurrent/

/** The instructions of the inner run's N hits, from the dump callgrind writes at os.uptime, and those of GC. */
function callgrind (n: number): { total: number, gc: number } {
  const dir = mkdtempSync(join(tmpdir(), 'corral-callgrind-'))
  try {
    const out = join(dir, 'callgrind.out')
    const args = [
      '--tool=callgrind', `--callgrind-out-file=${out}`, '--smc-check=all-non-file', '--zero-before=uv_loadavg', '--dump-before=uv_uptime',
      process.execPath, '--single-threaded', '--import', 'tsx', import.meta.filename, '--root', root, '--run', String(n)
    ]
    if (values.log) args.push('--log')
    const run = spawnSync('valgrind', args, { stdio: ['ignore', 'inherit', 'pipe'], timeout: 600_000, cwd: root })
    if (run.status !== 0) throw new Error(`valgrind exited ${String(run.status)}: ${run.stderr.toString().slice(-2000)}`)
    // The dump at os.uptime is part 1; the rest of the run (exit) is the file without a part number.
    return selfCosts(readFileSync(`${out}.1`, 'utf8'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Self cost per function from callgrind's format (names compressed as `(id) name` on first use, `(id)` after). */
function selfCosts (text: string): { total: number, gc: number } {
  const names = new Map<string, string>()
  let total = 0
  let gc = 0
  let inGc = false
  let skipCallCost = false
  for (const line of text.split('\n')) {
    const named = /^c?fn=\((\d+)\)(?: (.*))?/.exec(line)
    if (named !== null) {
      const [, id = '', name] = named
      if (name !== undefined) names.set(id, name)
      if (line.startsWith('fn=')) inGc = GC_OR_COMPILER.test(names.get(id) ?? '')
      continue
    }
    if (line.startsWith('calls=')) {
      skipCallCost = true
      continue
    }
    if (!/^[0-9+\-*]/.test(line)) continue
    // The line after calls= is the call's inclusive cost, already counted in the callee's own lines.
    if (skipCallCost) {
      skipCallCost = false
      continue
    }
    const cost = Number(line.split(' ')[1] ?? 0)
    total += cost
    if (inGc) gc += cost
  }
  return { total, gc }
}

async function hits (n: number): Promise<void> {
  const from = (path: string): string => pathToFileURL(join(root, path)).href
  const { parseConfig } = await import(from('src/config/load.ts'))
  const { createProxy } = await import(from('src/proxy.ts'))
  const { ChunkedDestination, makeLogger } = await import(from('src/core/log.ts'))
  const { default: pino } = await import(from('node_modules/pino/pino.js'))
  const now = Date.now()
  const entry = stubPageEntry(now, 3_600_000, 0)
  const config = parseConfig(JSON.stringify({ origin: { url: 'http://127.0.0.1:3000' }, log: values.log ? { level: 'info' } : { access: false, level: 'error' } }))
  const logger = values.log ? makeLogger('info', new ChunkedDestination(pino.destination({ dest: '/dev/null', sync: true, contentMode: 'buffer' }))) : undefined
  const proxy = createProxy(config, logger === undefined ? { admin: false } : { admin: false, logger })
  await proxy.pipeline.cache.store.set(entry.key, entry, 3_600_000)
  const socket = stubSocket
  let notHits = 0
  const hit = (): void => {
    // Fresh strings per request, as node's parser gives them.
    const req = { url: String.fromCharCode(47) + 'article/123', method: 'GET', headers: { host: 'www.example.com'.slice(0), connection: 'keep-alive' }, socket }
    const res = new StubResponse(req)
    proxy.pipeline.handle(req, res)
    if (res.statusCode !== 200) notHits++
  }
  for (let i = 0; i < WARMUP_HITS; i++) hit()
  if (loadavg().length === 0) notHits++
  for (let i = 0; i < n; i++) hit()
  if (uptime() < 0) notHits++
  if (notHits !== 0) throw new Error(`${notHits} calls were not answered 200 from memory`)
  process.exit(0)
}

if (values.run === undefined) await count()
else await hits(Number(values.run))
