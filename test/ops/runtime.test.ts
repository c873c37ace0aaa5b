import { afterEach, describe, expect, it } from 'vitest'
import { choosesMemoryReducer, NO_MEMORY_REDUCER, RESPAWNED_ENV, respawnArgs, workerExecArgv } from '../../src/ops/runtime.js'
import { startCli, type CliProcess } from '../helpers/config-file.js'

describe('node flags', () => {
  it('adds --no-memory-reducer to a worker\'s node arguments unless the command line chose', () => {
    expect(workerExecArgv([])).toEqual([NO_MEMORY_REDUCER])
    expect(workerExecArgv(['--import', 'tsx'])).toEqual(['--import', 'tsx', NO_MEMORY_REDUCER])
    expect(workerExecArgv(['--memory-reducer'])).toEqual(['--memory-reducer'])
    expect(workerExecArgv(['--no-memory_reducer'])).toEqual(['--no-memory_reducer'])
    expect(choosesMemoryReducer(['--max-old-space-size=512'])).toBe(false)
    expect(choosesMemoryReducer(['--memory-reducer-for-small-heaps'])).toBe(false)
  })
})

describe('respawnArgs: corral serve runs itself again with the flag, once', () => {
  const argv = ['/usr/bin/node', '/opt/corral/dist/cli.js', 'serve', '--config', 'proxy.config.json']

  it('adds the flag to node\'s own arguments, keeping the script and its arguments', () => {
    expect(respawnArgs([], argv, {}, false)).toEqual([NO_MEMORY_REDUCER, '/opt/corral/dist/cli.js', 'serve', '--config', 'proxy.config.json'])
    expect(respawnArgs(['--import', 'tsx'], argv, {}, false)).toEqual(['--import', 'tsx', NO_MEMORY_REDUCER, ...argv.slice(1)])
  })

  it('leaves the operator\'s choice, a cluster worker, a respawned process and other commands alone', () => {
    expect(respawnArgs(['--memory-reducer'], argv, {}, false)).toBeNull()
    expect(respawnArgs([NO_MEMORY_REDUCER], argv, {}, false)).toBeNull()
    expect(respawnArgs([], argv, {}, true)).toBeNull()
    expect(respawnArgs([], argv, { [RESPAWNED_ENV]: '1' }, false)).toBeNull()
    expect(respawnArgs([], ['/usr/bin/node', 'cli.js', 'check'], {}, false)).toBeNull()
    expect(respawnArgs([], [...argv, '--help'], {}, false)).toBeNull()
  })
})

describe('corral serve, one process', () => {
  let cli: CliProcess | undefined
  afterEach(async () => { await cli?.kill() })

  const config = { origin: { url: 'http://127.0.0.1:9' }, log: { level: 'info' } }

  /** The pid in the `listening` line: the process that serves. */
  function servingPid (output: string): number {
    return Number(/"pid":(\d+),[^\n]*"msg":"listening"/.exec(output)?.[1])
  }

  it('started by node without the flag, runs itself again with it; SIGTERM to the first process stops both', async () => {
    cli = await startCli(config, { nodeArgs: [] })
    const started = cli
    await expect.poll(() => started.output, { timeout: 5000 }).toContain('"msg":"listening"')
    const pid = servingPid(started.output)
    expect(pid).not.toBe(started.pid)
    expect(started.children()).toEqual([pid])
    expect(started.output).not.toMatch(/memory reducer is on/)
    started.child.kill('SIGTERM')
    expect(await started.exited).toEqual({ code: 0, signal: null })
    expect(started.output).toContain('"msg":"stopped"')
  })

  it('the operator\'s explicit --memory-reducer wins: no second process', async () => {
    cli = await startCli(config, { nodeArgs: ['--memory-reducer'] })
    const started = cli
    await expect.poll(() => started.output, { timeout: 5000 }).toContain('"msg":"listening"')
    expect(servingPid(started.output)).toBe(started.pid)
  })

  it('says nothing when started as npm start starts it', async () => {
    cli = await startCli(config)
    const started = cli
    // The warning would come before this line, in the same batch or an earlier one.
    await expect.poll(() => started.output, { timeout: 5000 }).toContain('"msg":"listening"')
    expect(servingPid(started.output)).toBe(started.pid)
    expect(started.output).not.toMatch(/memory reducer/)
  })
})
