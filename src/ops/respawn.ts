/**
 * respawn: run `corral serve` again as a child node with the flags runtime.ts asks for, and stand in for it: signals
 * go through to it, its exit code (or signal) comes back as ours. Node 20 has no execve (process.execve is node 23.11),
 * so the first process stays, idle, for the child's life: about 40 MB of RSS and no CPU.  [I/O]
 */
import { spawn } from 'node:child_process'
import { RESPAWNED_ENV } from './runtime.js'

/** The signals an operator or a supervisor sends to the pid it started; the child ignores a repeat (cli's stop). */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP']

/** Resolves with the child's exit code; a child killed by a signal kills this process with the same signal. */
export async function respawn (args: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, [RESPAWNED_ENV]: '1' } })
  const forward = (signal: NodeJS.Signals): void => { child.kill(signal) }
  for (const signal of FORWARDED) process.on(signal, forward)
  return await new Promise<number>((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`corral: cannot start ${process.execPath}: ${err.message}\n`)
      resolve(1)
    })
    child.once('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward)
      if (signal !== null) {
        process.kill(process.pid, signal)
        return
      }
      resolve(code ?? 1)
    })
  })
}
