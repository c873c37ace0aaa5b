/**
 * A load generator run as a child process of its own, measured as `time` measures a command: its CPU is read from the
 * runner's total for reaped children (proc.ts runnerCpuSeconds) before the spawn and after the exit, so it covers the
 * whole process tree with every thread, up to its last moment. That reading is exact only if the runner reaps no
 * other child meanwhile, which holds during a round: the servers under test live across rounds. Not tracked by
 * stopAll: the generator stops itself after its duration (Ctrl-C at a terminal reaches it too, it is in our group).
 */
import { spawn } from 'node:child_process'
import { runnerCpuSeconds } from '../proc.js'

export interface ChildRun {
  readonly stdout: string
  /** CPU seconds the child's process tree used (user + system); NaN off Linux. */
  readonly cpuS: number
}

/** Run `command` to its exit, keep its stdout; its stderr is kept for the error message (autocannon draws a progress table there). */
export async function runMeasured (command: string, args: readonly string[]): Promise<ChildRun> {
  const cpu0 = runnerCpuSeconds().reaped
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-2000) })
    child.once('error', reject)
    // 'close', not 'exit': stdout is complete and libuv has reaped the child, so its CPU is in the runner's total.
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ stdout })
      else reject(new Error(`${command} exited with ${signal ?? `code ${code ?? '?'}`}: ${(stderr || stdout).trim().slice(-300)}`))
    })
  })
  return { stdout, cpuS: runnerCpuSeconds().reaped - cpu0 }
}
