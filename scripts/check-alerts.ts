/**
 * Checks deploy/ with promtool (Debian's `prometheus` package): the alert rules parse (`promtool check rules`), their
 * unit tests pass (`promtool test rules`), and every PromQL query of the Grafana dashboard parses, by checking them
 * as recording rules in a temporary file (Grafana's variables replaced with values of the same shape). Run by
 * `npm run check:alerts` and .ci/run. Exits 1 on the first failure, 2 when promtool is missing.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const rules = join(root, 'deploy/prometheus/corral-alerts.yml')
const ruleTests = join(root, 'deploy/prometheus/corral-alerts.test.yml')
const dashboard = join(root, 'deploy/grafana/corral-dashboard.json')

function promtool (...args: string[]): boolean {
  const run = spawnSync('promtool', args, { stdio: 'inherit' })
  if (run.error !== undefined) {
    process.stderr.write(`promtool: ${run.error.message} (install Debian's prometheus package: apt-get install prometheus)\n`)
    process.exit(2)
  }
  return run.status === 0
}

/** Every `expr` string in the dashboard, wherever a panel or target keeps it. */
function dashboardQueries (node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(dashboardQueries)
  if (node === null || typeof node !== 'object') return []
  return Object.entries(node).flatMap(([key, value]) => key === 'expr' && typeof value === 'string' ? [value] : dashboardQueries(value))
}

/** Grafana's template variables as PromQL would see them once Grafana has filled them in. */
function withVariables (query: string): string {
  return query.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h').replace(/\$\{?(job|instance)\}?/g, '.*')
}

const dir = mkdtempSync(join(tmpdir(), 'corral-dashboard-'))
try {
  const queries = dashboardQueries(JSON.parse(readFileSync(dashboard, 'utf8')))
  const asRules = ['groups:', '  - name: corral-dashboard', '    rules:',
    ...queries.flatMap((q, i) => [`      - record: corral_dashboard:query_${i}`, `        expr: ${JSON.stringify(withVariables(q))}`])].join('\n') + '\n'
  const file = join(dir, 'dashboard-queries.yml')
  writeFileSync(file, asRules)
  const ok = promtool('check', 'rules', rules) && promtool('test', 'rules', ruleTests) && promtool('check', 'rules', file)
  if (ok) process.stdout.write(`deploy/: alert rules, their tests and ${queries.length} dashboard queries pass promtool\n`)
  process.exitCode = ok ? 0 : 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
