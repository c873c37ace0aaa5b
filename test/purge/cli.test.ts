/** `corral purge`: one POST /purge to a real admin listener, the token from CORRAL_ADMIN_TOKEN. */
import { afterEach, describe, expect, it } from 'vitest'
import { makePurgeQuery, runPurgeCli } from '../../src/purge/cli.js'
import { startOrigin, answer, type TestOrigin } from '../helpers/origin.js'
import { startProxy, get, type TestProxy } from '../helpers/proxy.js'

const TOKEN = 'purge-cli-token-0123456789abcdef'
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of cleanups.splice(0).reverse()) await close() })

function capture (env: Record<string, string | undefined>): { io: Parameters<typeof runPurgeCli>[1] & object, out: string[], err: string[] } {
  const out: string[] = []
  const err: string[] = []
  return { io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) }, env }, out, err }
}

async function start (): Promise<{ o: TestOrigin, p: TestProxy }> {
  const o = await startOrigin(answer(200, { 'cache-control': 'max-age=60', 'surrogate-key': 'front' }, (n) => `v${n}`))
  cleanups.push(() => o.close())
  const p = await startProxy(o.url, { admin: { token: TOKEN }, log: { level: 'warn', access: false } })
  cleanups.push(() => p.close())
  return { o, p }
}

describe('corral purge', () => {
  it('purges by tag with the token from CORRAL_ADMIN_TOKEN and prints the answer', async () => {
    const { p } = await start()
    await get(`${p.url}/`, { host: 'site.test' })
    const { io, out } = capture({ CORRAL_ADMIN_TOKEN: TOKEN })
    expect(await runPurgeCli(['--admin', p.adminUrl, '--tag', 'front', '--soft'], io)).toBe(0)
    expect(JSON.parse(out.join(''))).toMatchObject({ purged: { kind: 'tag', values: ['front'] }, mode: 'soft', touched: 1 })
    expect((await get(`${p.url}/`, { host: 'site.test' })).headers['x-cache']).toBe('STALE')
  })

  it('exits 1 when the admin refuses (no token), 2 on a usage error', async () => {
    const { p } = await start()
    const refused = capture({})
    expect(await runPurgeCli(['--admin', p.adminUrl, '--url', '/x'], refused.io)).toBe(1)
    expect(refused.err.join('')).toContain('401')
    const usage = capture({})
    expect(await runPurgeCli(['--admin', p.adminUrl, '--url', '/x', '--tag', 'a'], usage.io)).toBe(2)
    expect(await runPurgeCli(['--tag', 'a'], usage.io)).toBe(2)
  })

  it('builds the admin query: --tag repeated, --host, --soft', () => {
    expect(makePurgeQuery({ tag: ['a', 'b'], host: 'h.test', soft: true }).toString()).toBe('tag=a&tag=b&host=h.test&soft=1')
    expect(makePurgeQuery({ prefix: '/news/', host: 'h.test' }).toString()).toBe('prefix=%2Fnews%2F&host=h.test')
  })
})

describe('corral purge --list (issue 26)', () => {
  it('lists the records in force, oldest first, with age, kind and mode', async () => {
    const { p } = await start()
    const { io } = capture({ CORRAL_ADMIN_TOKEN: TOKEN })
    expect(await runPurgeCli(['--admin', p.adminUrl, '--tag', 'front', '--soft'], io)).toBe(0)
    expect(await runPurgeCli(['--admin', p.adminUrl, '--prefix', '/news/', '--host', 'site.test'], io)).toBe(0)
    const listed = capture({ CORRAL_ADMIN_TOKEN: TOKEN })
    expect(await runPurgeCli(['--admin', p.adminUrl, '--list'], listed.io)).toBe(0)
    const lines = listed.out.join('').split('\n')
    expect(lines[0]).toMatch(/age\s+kind\s+mode\s+names/)
    expect(lines[1]).toMatch(/^\s+\d+s {2}tag {5}soft {2}front$/)
    expect(lines[2]).toMatch(/^\s+\d+s {2}prefix {2}hard {2}site\.test\/news\/$/)
    expect(lines[3]).toBe('2 records in force')
    const empty = capture({})
    expect(await runPurgeCli(['--admin', p.adminUrl, '--list'], empty.io)).toBe(1)
    expect(empty.err.join('')).toContain('401')
  })

  it('says when nothing is in force', async () => {
    const { formatRecords } = await import('../../src/purge/list-cli.js')
    expect(formatRecords([])).toBe('no purge records in force\n')
  })
})
