import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { SecondReport, SpikeResult } from './run.js'
import { CACHE_STATUSES } from './stats.js'

/** Writes report.json and a self-contained report.html (inline SVG, no network) into `dir`. */
export async function writeReport (dir: string, result: SpikeResult): Promise<{ json: string, html: string }> {
  await mkdir(dir, { recursive: true })
  const json = join(dir, 'report.json')
  const html = join(dir, 'report.html')
  await writeFile(json, JSON.stringify(result, null, 2) + '\n')
  await writeFile(html, renderHtml(result))
  return { json, html }
}

const COLORS = {
  rps: '#2563eb',
  errors: '#dc2626',
  p50: '#16a34a',
  p99: '#ea580c',
  origin: '#7c3aed',
  '2xx': '#16a34a',
  '3xx': '#0891b2',
  '4xx': '#ca8a04',
  '5xx': '#dc2626',
  HIT: '#16a34a',
  STALE: '#84cc16',
  MISS: '#f59e0b',
  PASS: '#64748b',
  SHED: '#dc2626',
  other: '#a855f7'
} as const

interface Series {
  readonly name: string
  readonly color: string
  readonly values: readonly number[]
}

export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** JSON that cannot close the <script> element it sits in. */
function embedJson (value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

export function renderHtml (result: SpikeResult): string {
  const t = result.timeline
  const title = `corral spike: ${result.scenario ?? 'scenario'}`
  const verdict = result.ok ? '<span class="ok">PASSED</span>' : `<span class="bad">FAILED${result.abortReason === undefined ? '' : ` (${escapeHtml(result.aborted ?? '')}: ${escapeHtml(result.abortReason)})`}</span>`
  const hasOrigin = t.some((s) => s.originRequests !== undefined)
  const charts = [
    chart('Requests per second', 'line', t, [
      { name: 'responses/s', color: COLORS.rps, values: t.map((s) => s.requests) },
      { name: 'errors/s', color: COLORS.errors, values: t.map((s) => s.errors) }
    ]),
    chart('Latency (ms)', 'line', t, [
      { name: 'p50', color: COLORS.p50, values: t.map((s) => s.p50) },
      { name: 'p99', color: COLORS.p99, values: t.map((s) => s.p99) }
    ]),
    chart('Status mix per second', 'stack', t, statusSeries(t)),
    chart('X-Cache mix per second', 'stack', t, cacheSeries(t)),
    hasOrigin ? chart('Origin requests per second (from the proxy\'s /metrics)', 'stack', t, [{ name: 'origin requests', color: COLORS.origin, values: t.map((s) => s.originRequests ?? 0) }]) : ''
  ]
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #0f172a; max-width: 1000px }
h1 { font-size: 20px } h2 { font-size: 16px; margin-top: 28px }
.ok { color: #16a34a; font-weight: 700 } .bad { color: #dc2626; font-weight: 700 }
table { border-collapse: collapse; margin: 8px 0 } td, th { border: 1px solid #cbd5e1; padding: 3px 8px; text-align: right }
th:first-child, td:first-child { text-align: left }
svg { display: block; margin: 4px 0 16px } .legend span { margin-right: 14px } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px }
</style>
</head>
<body>
<h1>${escapeHtml(title)} ${verdict}</h1>
<p>Target ${escapeHtml(result.target)}, started ${escapeHtml(result.startedAt)}, ran ${(result.durationMs / 1000).toFixed(1)} s, ${result.stages.length} of ${result.stagesPlanned} stages.</p>
<h2>Stages</h2>
${stageTable(result)}
<h2>Thresholds</h2>
${thresholdTable(result)}
${charts.join('\n')}
<script type="application/json" id="report-data">${embedJson(result)}</script>
</body>
</html>
`
}

function statusSeries (t: readonly SecondReport[]): Series[] {
  const classes = ['2xx', '3xx', '4xx', '5xx'] as const
  const series: Series[] = classes.map((c) => ({
    name: c,
    color: COLORS[c],
    values: t.map((s) => Object.entries(s.statuses).reduce((n, [code, count]) => code[0] === c[0] ? n + count : n, 0))
  }))
  series.push({ name: 'errors', color: '#7f1d1d', values: t.map((s) => s.errors) })
  return series.filter((s) => s.values.some((v) => v > 0))
}

function cacheSeries (t: readonly SecondReport[]): Series[] {
  const named = CACHE_STATUSES
  const series: Series[] = named.map((k) => ({ name: k, color: COLORS[k], values: t.map((s) => s.cache[k] ?? 0) }))
  series.push({
    name: 'other / none',
    color: COLORS.other,
    values: t.map((s) => Object.entries(s.cache).reduce((n, [k, v]) => (named as readonly string[]).includes(k) ? n : n + v, 0))
  })
  return series.filter((s) => s.values.some((v) => v > 0))
}

const W = 900
const H = 200
const PAD = { left: 56, right: 12, top: 22, bottom: 24 }

function niceMax (max: number): number {
  if (max <= 0) return 1
  const pow = 10 ** Math.floor(Math.log10(max))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= max) return m * pow
  return 10 * pow
}

function fmt (n: number): string {
  return n >= 1000 ? `${Math.round(n / 100) / 10}k` : String(Math.round(n * 100) / 100)
}

function chart (title: string, kind: 'line' | 'stack', t: readonly SecondReport[], series: readonly Series[]): string {
  const n = Math.max(t.length, 1)
  const plotW = W - PAD.left - PAD.right
  const plotH = H - PAD.top - PAD.bottom
  const totals = t.map((_, i) => kind === 'stack' ? series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0) : Math.max(0, ...series.map((s) => s.values[i] ?? 0)))
  const yMax = niceMax(Math.max(0, ...totals))
  const x = (i: number): number => PAD.left + (i / n) * plotW
  const y = (v: number): number => PAD.top + plotH - (v / yMax) * plotH
  const parts: string[] = []
  for (let g = 0; g <= 4; g++) {
    const v = yMax * g / 4
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0"/><text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`)
  }
  const step = Math.max(1, Math.ceil(n / 15))
  for (let i = 0; i < n; i += step) parts.push(`<text x="${x(i)}" y="${H - 8}" font-size="11" text-anchor="middle">${i}s</text>`)
  // Stage boundaries, so the spike is visible where it starts.
  t.forEach((s, i) => {
    if (i === 0 || t[i - 1]?.stage !== s.stage) {
      parts.push(`<line x1="${x(i)}" x2="${x(i)}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#94a3b8" stroke-dasharray="4 3"/><text x="${x(i) + 3}" y="${PAD.top - 6}" font-size="11" fill="#475569">${escapeHtml(s.stage)}</text>`)
    }
  })
  const barW = plotW / n
  if (kind === 'stack') {
    const base = new Array<number>(n).fill(0)
    for (const s of series) {
      s.values.forEach((v, i) => {
        if (v <= 0) return
        const y0 = base[i] ?? 0
        parts.push(`<rect class="series-${escapeHtml(s.name)}" x="${x(i) + 1}" y="${y(y0 + v)}" width="${Math.max(1, barW - 2)}" height="${y(y0) - y(y0 + v)}" fill="${s.color}"><title>${escapeHtml(s.name)} ${i}s: ${v}</title></rect>`)
        base[i] = y0 + v
      })
    }
  } else {
    for (const s of series) {
      const points = s.values.map((v, i) => `${(x(i) + barW / 2).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
      parts.push(`<polyline class="series-${escapeHtml(s.name)}" fill="none" stroke="${s.color}" stroke-width="2" points="${points}"/>`)
    }
  }
  const legend = series.map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`).join('')
  return `<h2>${escapeHtml(title)}</h2>
<div class="legend">${legend}</div>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg>`
}

function stageTable (result: SpikeResult): string {
  const hasOrigin = result.stages.some((s) => s.originRequests !== undefined)
  const rows = result.stages.map((s) => {
    const load = s.rate === undefined ? `${s.connections} conn` : `${s.rate} req/s`
    const cache = Object.entries(s.cache).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')
    const statuses = Object.entries(s.statuses).map(([k, n]) => `${k}: ${n}`).join(', ')
    return `<tr><td>${escapeHtml(s.name)}${s.completed ? '' : ' (cut short)'}</td><td>${load}${s.ramp ? ' (ramp)' : ''}</td><td>${(s.durationMs / 1000).toFixed(1)} s</td><td>${s.requests}</td><td>${s.rps}</td><td>${s.latencyMs.p50}</td><td>${s.latencyMs.p99}</td><td>${s.latencyMs.p999}</td><td>${s.latencyMs.max}</td><td>${s.errors}</td><td>${escapeHtml(statuses)}</td><td>${escapeHtml(cache)}</td>${hasOrigin ? `<td>${s.originRequests ?? ''}</td>` : ''}</tr>`
  })
  return `<table><tr><th>stage</th><th>load</th><th>time</th><th>requests</th><th>req/s</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>errors</th><th>statuses</th><th>X-Cache</th>${hasOrigin ? '<th>origin requests</th>' : ''}</tr>${rows.join('')}</table>`
}

function thresholdTable (result: SpikeResult): string {
  if (result.thresholds.length === 0) return '<p>No thresholds set.</p>'
  const rows = result.thresholds.map((r) => `<tr><td>${escapeHtml(r.name)}</td><td>${r.limit}</td><td>${Math.round(r.value * 1000) / 1000}</td><td>${r.ok ? '<span class="ok">ok</span>' : '<span class="bad">breached</span>'}</td></tr>`)
  return `<table><tr><th>threshold</th><th>limit</th><th>value</th><th></th></tr>${rows.join('')}</table>`
}
