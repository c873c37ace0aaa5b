/** Section 6: corral with `workers: "auto"` against a 2-worker ceiling; the load generator shares the 2 cores. */
import { availableParallelism } from 'node:os'
import { processTree } from '../proc.js'
import { median } from '../rounds.js'
import { fmt, row, type Run } from '../section.js'
import { ceilingContender, corralContender, cpuRatioRow, generatorRow, interleave, ratioRow, summarize, type Measured } from '../throughput.js'

export async function workersSection (r: Run): Promise<void> {
  const s = '6 workers'
  r.origin.setDelay(0)
  const measured = await interleave(r, [ceilingContender(2), corralContender('corral (workers auto)', r.origin.url, { workers: 'auto' })], '/page')
  try {
    const [ceiling, corral] = measured as [Measured, Measured]
    const processes = processTree(corral.child.pid).length
    const workers = processes > 1 ? processes - 1 : 1
    r.details[s] = { ceiling: summarize(ceiling), corral: summarize(corral), corralProcesses: processes, cores: availableParallelism() }
    row(r, s, 'ceiling (2 workers) req/s', fmt(ceiling.medianRps), '', 'info')
    row(r, s, 'corral (workers auto) req/s', fmt(corral.medianRps), '', 'info')
    ratioRow(r, s, 'ratio corral / ceiling', corral, ceiling, 0.85)
    cpuRatioRow(r, s, 'ratio corral / ceiling', corral, ceiling, 0.85)
    row(r, s, 'corral workers seen', `${workers} (${processes} processes)`, String(availableParallelism()), workers === availableParallelism() ? 'ok' : 'MISS')
    row(r, s, 'server / loadgen CPU (corral, median)', `${fmt(median(corral.rounds.map((x) => x.serverCores)), 2)} / ${fmt(median(corral.rounds.map((x) => x.loadgenCores)), 2)} cores`, 'report', 'info')
    generatorRow(r, s, 'load generator CPU per round', measured)
  } finally {
    await Promise.all(measured.map(async (m) => await m.child.stop()))
  }
}
