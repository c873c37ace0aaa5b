/**
 * deploy/ (the Grafana dashboard, the Prometheus alert rules) may only name metrics a running corral exports: a
 * renamed metric would leave a panel empty and an alert silent, and nothing else would say so.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answer, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url))

/**
 * Added by the engineer doing issue 16's memcached node state on another branch; until that merges, the dashboard
 * and the alerts reference it ahead of the code. Remove it from here once /metrics has it. Nothing else may be absent.
 */
const PENDING = new Set(['corral_memcached_up'])

function files (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

/** Every corral_, process_ and nodejs_ name in a file's text (PromQL in JSON strings and YAML alike). */
function referencedNames (text: string): string[] {
  return [...text.matchAll(/\b((?:corral|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1] as string)
}

/** The metric families /metrics declares, by name, with their type. */
function declared (text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]))
}

/** `x_bucket` / `x_sum` / `x_count` of a histogram or summary `x` is `x`; other names stand for themselves. */
function family (name: string, types: Map<string, string>): string {
  const base = name.replace(/_(bucket|sum|count)$/, '')
  return base !== name && (types.get(base) === 'histogram' || types.get(base) === 'summary') ? base : name
}

describe('deploy/ dashboards and alerts', () => {
  let origin: TestOrigin
  let proxy: TestProxy
  beforeAll(async () => {
    origin = await startOrigin(answer(200, { 'cache-control': 'max-age=60' }, 'ok'))
    proxy = await startProxy(origin.url)
  })
  afterAll(async () => {
    await proxy.close()
    await origin.close()
  })

  it('has a dashboard and alert rules', () => {
    const names = files(DEPLOY).map((f) => f.slice(DEPLOY.length))
    expect(names).toContain('grafana/corral-dashboard.json')
    expect(names).toContain('prometheus/corral-alerts.yml')
    expect(() => JSON.parse(readFileSync(join(DEPLOY, 'grafana/corral-dashboard.json'), 'utf8')) as unknown).not.toThrow()
  })

  it('references only metrics /metrics exports', async () => {
    const types = declared(await (await fetch(`${proxy.adminUrl}/metrics`)).text())
    const missing: string[] = []
    let referenced = 0
    for (const file of files(DEPLOY)) {
      for (const name of referencedNames(readFileSync(file, 'utf8'))) {
        referenced++
        const metric = family(name, types)
        if (!types.has(metric) && !PENDING.has(metric)) missing.push(`${file.slice(DEPLOY.length)}: ${name}`)
      }
    }
    expect(missing).toEqual([])
    expect(referenced).toBeGreaterThan(30)
  })
})

/** promtool where installed (.ci/run installs it; CI=true requires it): issue 26, friction 5. */
const promtool = (() => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

describe.skipIf(!promtool && process.env['CI'] !== 'true')('deploy/ under promtool', () => {
  it('the alert rules parse, their unit tests pass (drift ignores ports; origin down, hit ratio, surge fire), the dashboard queries parse', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../scripts/check-alerts.ts', import.meta.url))], { encoding: 'utf8', timeout: 60_000 })
    expect(run.stdout + run.stderr).toMatch(/SUCCESS/)
    expect(run.stdout).toMatch(/alert rules, their tests and \d+ dashboard queries pass promtool/)
    expect(run.status).toBe(0)
  })
})
