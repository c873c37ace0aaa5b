import { afterEach, describe, expect, it } from 'vitest'
import { choosesMemoryReducer, NO_MEMORY_REDUCER, workerExecArgv } from '../../src/ops/runtime.js'
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

describe('corral serve, one process', () => {
  let cli: CliProcess | undefined
  afterEach(async () => { await cli?.kill() })

  const config = { origin: { url: 'http://127.0.0.1:9' }, log: { level: 'info' } }
  const WARNING = /"level":40.*"fix":"node --no-memory-reducer [^"]*".*memory reducer is on/

  it('warns, naming the fix, when node runs with V8\'s memory reducer', async () => {
    cli = await startCli(config, { nodeArgs: [] })
    const started = cli
    // Log lines are written in batches: wait for the one that follows the warning.
    await expect.poll(() => started.output, { timeout: 5000 }).toContain('"msg":"listening"')
    expect(started.output).toMatch(WARNING)
  })

  it('says nothing when started as npm start starts it', async () => {
    cli = await startCli(config)
    const started = cli
    // The warning would come before this line, in the same batch or an earlier one.
    await expect.poll(() => started.output, { timeout: 5000 }).toContain('"msg":"listening"')
    expect(started.output).not.toMatch(/memory reducer/)
  })
})
