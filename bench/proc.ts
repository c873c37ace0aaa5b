/**
 * Readings from /proc: resident memory, CPU time of a process tree, of the runner itself and of the children it has
 * reaped, and the cores the runner may use. Each returns NaN (or a fallback) off Linux instead of throwing, so the
 * bench still runs there with fewer figures.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

const CLOCK_TICKS = ((): number => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
  const n = Number(out.stdout?.trim())
  return Number.isFinite(n) && n > 0 ? n : 100
})()

/** A KiB field of /proc/<pid>/status: VmRSS (resident now), VmHWM (peak resident); NaN off Linux. */
export function statusKb (pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match?.[1] !== undefined ? Number(match[1]) : NaN
  } catch {
    return NaN
  }
}

/** A process and its descendants (from /proc/<pid>/task/<tid>/children). */
export function processTree (pid: number): number[] {
  const all = [pid]
  for (let i = 0; i < all.length; i++) {
    const p = all[i] as number
    try {
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim()
      if (children !== '') all.push(...children.split(/\s+/).map(Number))
    } catch {}
  }
  return all
}

/** The fields of /proc/<pid>/stat after the ")" that closes the command name (which may hold spaces): state first. */
function statFields (pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** CPU time (user + system, seconds) used so far by a process and its descendants; NaN off Linux. */
export function treeCpuSeconds (pid: number): number {
  let ticks = 0
  for (const p of processTree(pid)) {
    try {
      const fields = statFields(p)
      // stat(5) fields 14 utime, 15 stime; the slice starts at field 3.
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      return NaN
    }
  }
  return ticks / CLOCK_TICKS
}

/**
 * The runner's CPU time in seconds: `self` is every thread of this process (autocannon's worker threads included);
 * `reaped` is every child this process has waited for, with their own waited-for descendants (stat(5) cutime and
 * cstime), which is how a wrk process's whole tree is read once it has exited: its /proc entry is gone by then, and
 * sampling it while it runs would miss its last moments. NaN off Linux.
 */
export function runnerCpuSeconds (): { readonly self: number, readonly reaped: number } {
  try {
    const f = statFields('self')
    return {
      self: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS,
      reaped: (Number(f[13]) + Number(f[14])) / CLOCK_TICKS
    }
  } catch {
    return { self: NaN, reaped: NaN }
  }
}

/** A cpuset list as the kernel and taskset print it (`0-1`, `2,3`, `0-3,6`) → the CPU ids. */
export function parseCpuList (list: string): number[] {
  return list.trim().split(',').filter((part) => part !== '').flatMap((part) => {
    const [from, to] = part.split('-').map(Number) as [number, number | undefined]
    return to === undefined ? [from] : Array.from({ length: to - from + 1 }, (_, i) => from + i)
  })
}

/**
 * How many cores the runner (and so a load generator it spawns, which inherits its affinity) may use right now:
 * /proc/self/status's Cpus_allowed_list, which follows `taskset` pinning; every core off Linux.
 */
export function allowedCoreCount (): number {
  try {
    const list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    const n = list === undefined ? 0 : parseCpuList(list).length
    return n > 0 ? n : availableParallelism()
  } catch {
    return availableParallelism()
  }
}
