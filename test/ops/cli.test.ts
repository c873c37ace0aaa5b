/** Issue 16 item 1: the CLI's help, version and one-line errors, through the real bin (tsx). */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { VERSION } from '../../src/core/build-info.js'
import { describeStartError } from '../../src/ops/start-errors.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

interface Run { code: number | null, stdout: string, stderr: string }

async function corral (...args: string[]): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(process.execPath, ['--no-memory-reducer', '--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}

function configFile (name: string, config: unknown): string {
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify(config))
  return path
}

describe('corral --help and --version', () => {
  it.each([['serve'], ['check']])('corral %s --help prints its usage and exits 0', async (command) => {
    const run = await corral(command, '--help')
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(new RegExp(`^usage: corral ${command} `))
    expect(run.stderr).toBe('')
  })

  it('corral --version and -v print the version', async () => {
    for (const flag of ['--version', '-v']) {
      const run = await corral(flag)
      expect(run.code).toBe(0)
      expect(run.stdout).toBe(`corral ${VERSION} (node ${process.versions.node})\n`)
    }
  })

  it('an unknown option is one line and the usage, exit 2, no stack trace', async () => {
    const run = await corral('serve', '--bogus')
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^corral serve: Unknown option '--bogus'\n\nusage: corral serve /)
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('corral serve and check fail in one line', () => {
  it('a missing config names the file', async () => {
    const path = join(dir, 'missing.json')
    for (const command of ['serve', 'check']) {
      const run = await corral(command, '--config', path)
      expect(run.code).toBe(1)
      expect(run.stderr).toBe(`${path}: cannot read ${path}: no such file (ENOENT)\n`)
    }
  })

  it('a port in use names the address', async () => {
    const taken: Server = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const path = configFile('taken.json', { origin: { url: 'http://127.0.0.1:9' }, listen: { host: '127.0.0.1', port }, admin: { port: 0 }, log: { level: 'warn' } })
      const run = await corral('serve', '--config', path)
      expect(run.code).toBe(1)
      expect(run.stderr).toBe(`corral: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE): another process listens there; stop it or pick another port\n`)
    } finally {
      taken.close()
    }
  })

  it('a permission error names the address (the words for each listen error)', () => {
    // Tests run as root here, where binding port 80 succeeds: the error node gives a non-root user, as it gives it.
    const denied = Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:80'), { code: 'EACCES', syscall: 'listen', address: '0.0.0.0', port: 80 })
    expect(describeStartError(denied)).toBe('cannot listen on 0.0.0.0:80: permission denied (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE; pick a port above 1023')
    expect(describeStartError(Object.assign(new Error('x'), { code: 'EADDRINUSE', syscall: 'listen', address: '::1', port: 8080 }))).toMatch(/^cannot listen on \[::1\]:8080: address already in use/)
    expect(describeStartError(new TypeError('a bug'))).toBeNull()
  })

  it('corral check lists every problem, one a line, and counts them', async () => {
    const path = configFile('bad.json', { origin: { url: 'http://127.0.0.1:9', timeoutMs: 'soon' }, cache: { memroy: {} } })
    const run = await corral('check', '--config', path)
    expect(run.code).toBe(1)
    expect(run.stderr).toBe([
      `${path}: origin.timeoutMs: must be a whole number (got "soon")`,
      `${path}: cache.memroy: unknown key; did you mean "memory"?`,
      `${path}: 2 problems`,
      ''
    ].join('\n'))
  })
})

describe('corral check and flags (issue 26)', () => {
  it('refuses a misspelt flag with a did-you-mean, and warns about a flag nothing reads', async () => {
    const bad = await corral('check', '--config', configFile('typo.json', { origin: { url: 'http://127.0.0.1:9' }, flags: { shedPrecent: 50 } }))
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/flags\.shedPrecent: unknown flag; did you mean "shedPercent"\?\n$/)
    const path = configFile('unused.json', { origin: { url: 'http://127.0.0.1:9' }, flags: { checkoutV2: true } })
    const unused = await corral('check', '--config', path)
    expect(unused.code).toBe(0)
    expect(unused.stderr).toMatch(new RegExp(`^${path}: warning: flags\\.checkoutV2: no route names this flag`))
    expect(unused.stdout).toMatch(/: ok \(version /)
  })
})

describe('corral serve --log-format pretty', () => {
  it('writes one human line per event through pino-pretty instead of JSON', async () => {
    const path = configFile('pretty.json', { origin: { url: 'http://127.0.0.1:9' }, listen: { port: 0, drainDelayMs: 0 }, admin: { port: 0 } })
    const child = spawn(process.execPath, ['--no-memory-reducer', '--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', path, '--log-format', 'pretty'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      await expect.poll(() => output, { timeout: 15_000 }).toMatch(/stopped|listening/)
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
    expect(output).toMatch(/INFO.*listening/)
    expect(output).toMatch(/INFO.*stopped/)
    expect(output.split('\n').filter((l) => l.startsWith('{'))).toEqual([])
  })

  it('prints one line per access entry (issue 26: it printed 11)', async () => {
    const path = configFile('pretty-access.json', { origin: { url: 'http://127.0.0.1:9', retries: 0 }, listen: { port: 0, drainDelayMs: 0 }, admin: { port: 0 }, log: { access: true } })
    const child = spawn(process.execPath, ['--no-memory-reducer', '--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', path, '--log-format', 'pretty'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      await expect.poll(() => output, { timeout: 15_000 }).toMatch(/listening/)
      const port = Number(/"port":(\d+)/.exec(output)?.[1])
      expect((await fetch(`http://127.0.0.1:${port}/pretty-page`)).status).toBe(502)
      await expect.poll(() => output, { timeout: 5000 }).toMatch(/GET \/pretty-page 502/)
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
    const access = output.split('\n').findIndex((l) => l.includes('GET /pretty-page 502'))
    // The next line is the next event (its own time stamp), not a field of this one.
    expect(output.split('\n')[access + 1]).toMatch(/^\S*\[?\d\d:\d\d:\d\d\.\d{3}|^$/)
    expect(output.split('\n').filter((l) => /^\s+(method|url|status|cache):/.test(l))).toEqual([])
  })

  it('refuses another format in one line', async () => {
    const run = await corral('serve', '--log-format', 'text')
    expect(run.code).toBe(2)
    expect(run.stderr).toBe('corral serve: --log-format must be json or pretty (got "text")\n')
  })
})
