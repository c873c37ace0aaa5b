import { describe, expect, it } from 'vitest'
import { toLoadResult } from '../../bench/loadgen/autocannon.js'
import { runMeasured } from '../../bench/loadgen/child.js'
import { parseWrkReport } from '../../bench/loadgen/wrk.js'
import { parseCpuList } from '../../bench/proc.js'

describe('parseWrkReport', () => {
  // wrk 4.1.0's own text above the line bench/loadgen/wrk-report.lua prints, captured against a node:http server
  // answering 503 on every request.
  const stdout = [
    'Running 1s test @ http://127.0.0.1:18123/bad',
    '  1 threads and 8 connections',
    '  19642 requests in 1.10s, 21.84MB read',
    '  Non-2xx or 3xx responses: 19642',
    'Requests/sec:  17859.61',
    'corral-wrk {"requests":19642,"durationUs":1099800,"connect":0,"read":1,"write":2,"status":19642,"timeout":3,"p50Us":373,"p99Us":3249,"maxUs":8686}',
    ''
  ].join('\n')

  it('reads requests per second over the measured duration, latencies in ms, status and socket errors apart', () => {
    const r = parseWrkReport(stdout)
    expect(r.requests).toBe(19642)
    expect(r.durationS).toBe(1.0998)
    expect(r.rps).toBeCloseTo(19642 / 1.0998, 3)
    expect(r.p50Ms).toBe(0.373)
    expect(r.p99Ms).toBe(3.249)
    expect(r.maxMs).toBe(8.686)
    expect(r.non2xx).toBe(19642)
    expect(r.errors).toBe(6)
  })

  it('throws, quoting wrk, when the report line is missing', () => {
    expect(() => parseWrkReport('unable to connect to 127.0.0.1:1 Connection refused\n')).toThrow(/Connection refused/)
  })
})

describe('toLoadResult (autocannon)', () => {
  it('divides total requests by the elapsed duration and adds timeouts to errors', () => {
    const r = toLoadResult({ duration: 2.5, non2xx: 1, errors: 2, timeouts: 3, requests: { total: 1000 }, latency: { p50: 1, p99: 4, max: 9 } }, 2)
    expect(r).toEqual({ durationS: 2.5, rps: 400, requests: 1000, p50Ms: 1, p99Ms: 4, maxMs: 9, non2xx: 1, errors: 5 })
  })
})

describe('parseCpuList', () => {
  it('reads ranges and single CPUs as the kernel prints them', () => {
    expect(parseCpuList('0-1')).toEqual([0, 1])
    expect(parseCpuList('2,3')).toEqual([2, 3])
    expect(parseCpuList('0-2,6\n')).toEqual([0, 1, 2, 6])
  })
})

describe('runMeasured', () => {
  it('reads the CPU a child used once it has exited, from the reaped-children total', async () => {
    // The child spins until it has used 300 ms of CPU by its own count.
    const spin = 'const t = process.cpuUsage(); while ((process.cpuUsage(t).user + process.cpuUsage(t).system) < 300000); console.log("done")'
    const run = await runMeasured(process.execPath, ['-e', spin])
    expect(run.stdout.trim()).toBe('done')
    // /proc counts in clock ticks (10 ms): allow one tick of rounding.
    expect(run.cpuS).toBeGreaterThanOrEqual(0.29)
  })

  it('rejects with the exit code and the end of stderr when the command fails', async () => {
    await expect(runMeasured(process.execPath, ['-e', 'console.error("no such url"); process.exit(3)'])).rejects.toThrow(/code 3: no such url/)
  })
})
