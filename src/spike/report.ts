import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PathReport, SecondReport, SpikeResult, StageReport } from './result.js'
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
  other: '#a855f7',
  busy: '#0f172a'
} as const

// Origin reasons as corral's corral_origin_requests_total labels them; an unknown one gets a grey.
const REASON_COLORS: Readonly<Record<string, string>> = {
  miss: '#f59e0b',
  expired: '#ea580c',
  refresh: '#84cc16',
  pass: '#64748b',
  '': '#7c3aed'
}

interface Series {
  readonly name: string
  readonly color: string
  readonly values: readonly number[]
}

function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** JSON that cannot close the <script> element it sits in. */
function embedJson (value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

function renderHtml (result: SpikeResult): string {
  const t = result.timeline
  const title = `corral spike: ${result.scenario ?? 'scenario'}`
  const verdict = result.ok ? '<span class="ok">PASSED</span>' : `<span class="bad">FAILED${result.aborted === undefined ? '' : ` (${escapeHtml(result.aborted === 'interrupted' ? 'interrupted' : 'aborted')})`}</span>`
  const axis = makeAxis(result)
  const hasOrigin = t.some((s) => s.originRequests !== undefined)
  const charts = [
    chart('Requests per second', 'line', axis, [
      { name: 'responses/s', color: COLORS.rps, values: t.map((s) => s.requests) },
      { name: 'errors/s', color: COLORS.errors, values: t.map((s) => s.errors) }
    ]),
    chart('Latency (ms)', 'line', axis, [
      { name: 'p50', color: COLORS.p50, values: t.map((s) => s.p50) },
      { name: 'p99', color: COLORS.p99, values: t.map((s) => s.p99) }
    ]),
    chart('Status mix per second', 'stack', axis, statusSeries(t)),
    chart('X-Cache mix per second', 'stack', axis, cacheSeries(t)),
    hasOrigin ? chart('Origin requests per second, by reason (from the proxy\'s /metrics)', 'stack', axis, originSeries(t)) : '',
    chart('Load generator: busiest thread\'s event-loop use (1 = saturated)', 'line', axis, [
      { name: 'busy', color: COLORS.busy, values: t.map((s) => s.generatorBusy ?? 0) }
    ], 1)
  ]
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #0f172a; max-width: 1200px }
h1 { font-size: 20px } h2 { font-size: 16px; margin-top: 28px }
.ok { color: #16a34a; font-weight: 700 } .bad { color: #dc2626; font-weight: 700 } .warn { color: #b45309; font-weight: 700 }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px } td, th { border: 1px solid #cbd5e1; padding: 3px 8px; text-align: right }
th:first-child, td:first-child { text-align: left } td.mix { text-align: left; font-size: 12px }
ul.verdict { margin: 6px 0; padding-left: 20px } ul.verdict li { margin: 2px 0 }
svg { display: block; margin: 4px 0 16px } .legend span { margin-right: 14px } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px }
</style>
</head>
<body>
<h1>${escapeHtml(title)} ${verdict}</h1>
<p>Target ${escapeHtml(result.target)}, started ${escapeHtml(result.startedAt)}, ran ${(result.durationMs / 1000).toFixed(1)} s, ${result.stages.length} of ${result.stagesPlanned} stages, ${result.workers} load thread${result.workers === 1 ? '' : 's'}.</p>
${verdictList(result)}
<h2>Stages</h2>
${stageTable(result)}
<h2>Thresholds</h2>
${thresholdTable(result)}
<h2>Paths (whole run)</h2>
${pathTable(result.paths)}
${charts.join('\n')}
<script type="application/json" id="report-data">${embedJson(result)}</script>
</body>
</html>
`
}

function verdictList (result: SpikeResult): string {
  const v = result.verdict
  const items: string[] = []
  for (const f of v.failed) items.push(`<li class="bad">${escapeHtml(f)}</li>`)
  if (result.aborted === 'interrupted') items.push('<li class="bad">interrupted</li>')
  for (const g of v.graced) items.push(`<li>${escapeHtml(g)}</li>`)
  if (v.worstPaths.length > 0) {
    items.push(`<li>worst paths: ${v.worstPaths.map((p) => `<code>${escapeHtml(p.path)}</code> (${escapeHtml(p.why)})`).join('; ')}</li>`)
  }
  for (const line of v.saturation) items.push(`<li class="warn">${escapeHtml(line)}</li>`)
  if (v.ok) items.unshift('<li class="ok">every threshold held</li>')
  return `<h2>Verdict</h2>\n<ul class="verdict">${items.join('')}</ul>`
}

function originSeries (t: readonly SecondReport[]): Series[] {
  const reasons = [...new Set(t.flatMap((s) => Object.keys(s.originByReason ?? {})))].sort()
  // Before the first per-reason figure (or from an older corral), the total alone.
  const series: Series[] = reasons.map((r) => ({ name: r === '' ? 'origin requests' : r, color: REASON_COLORS[r] ?? '#94a3b8', values: t.map((s) => s.originByReason?.[r] ?? 0) }))
  if (series.length === 0) series.push({ name: 'origin requests', color: COLORS.origin, values: t.map((s) => s.originRequests ?? 0) })
  return series.filter((s) => s.values.some((v) => v > 0))
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

/** Where each second sits on the x axis: at its own start time, as wide as it lasted; stage markers at their starts. */
interface Axis {
  readonly starts: readonly number[]
  readonly widths: readonly number[]
  readonly endT: number
  readonly markers: ReadonlyArray<{ readonly t: number, readonly name: string }>
}

function makeAxis (result: SpikeResult): Axis {
  const endOf = new Map(result.stages.map((s) => [s.name, s.startT + s.durationMs / 1000]))
  const t = result.timeline
  const widths = t.map((s, i) => {
    const next = t[i + 1]
    const end = next !== undefined && next.stage === s.stage ? next.t : endOf.get(s.stage) ?? s.t + 1
    return Math.max(0.05, Math.min(1, end - s.t))
  })
  const last = t.length - 1
  const endT = Math.max(1, result.durationMs / 1000, last < 0 ? 0 : (t[last]?.t ?? 0) + (widths[last] ?? 1))
  return { starts: t.map((s) => s.t), widths, endT, markers: result.stages.map((s) => ({ t: s.startT, name: s.name })) }
}

function chart (title: string, kind: 'line' | 'stack', axis: Axis, series: readonly Series[], fixedMax?: number): string {
  const n = axis.starts.length
  const plotW = W - PAD.left - PAD.right
  const plotH = H - PAD.top - PAD.bottom
  const totals = axis.starts.map((_, i) => kind === 'stack' ? series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0) : Math.max(0, ...series.map((s) => s.values[i] ?? 0)))
  const yMax = fixedMax ?? niceMax(Math.max(0, ...totals))
  const x = (t: number): number => PAD.left + (t / axis.endT) * plotW
  const y = (v: number): number => PAD.top + plotH - (Math.min(v, yMax) / yMax) * plotH
  const parts: string[] = []
  for (let g = 0; g <= 4; g++) {
    const v = yMax * g / 4
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0"/><text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`)
  }
  const step = Math.max(1, Math.ceil(axis.endT / 15))
  for (let s = 0; s <= axis.endT; s += step) parts.push(`<text x="${x(s).toFixed(1)}" y="${H - 8}" font-size="11" text-anchor="middle">${s}s</text>`)
  // Stage boundaries where each stage began, so the spike is visible where it starts.
  for (const m of axis.markers) {
    const mx = x(m.t).toFixed(1)
    parts.push(`<line class="stage-marker" data-t="${m.t}" x1="${mx}" x2="${mx}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#94a3b8" stroke-dasharray="4 3"/><text x="${(x(m.t) + 3).toFixed(1)}" y="${PAD.top - 6}" font-size="11" fill="#475569">${escapeHtml(m.name)}</text>`)
  }
  if (kind === 'stack') {
    const base = new Array<number>(n).fill(0)
    for (const s of series) {
      s.values.forEach((v, i) => {
        if (v <= 0) return
        const y0 = base[i] ?? 0
        const bx = x(axis.starts[i] ?? 0)
        const bw = Math.max(1, x((axis.starts[i] ?? 0) + (axis.widths[i] ?? 1)) - bx - 1)
        parts.push(`<rect class="series-${escapeHtml(s.name)}" x="${bx.toFixed(1)}" y="${y(y0 + v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(y0) - y(y0 + v)).toFixed(1)}" fill="${s.color}"><title>${escapeHtml(s.name)} ${axis.starts[i] ?? 0}s: ${v}</title></rect>`)
        base[i] = y0 + v
      })
    }
  } else {
    for (const s of series) {
      const points = s.values.map((v, i) => `${x((axis.starts[i] ?? 0) + (axis.widths[i] ?? 1) / 2).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
      parts.push(`<polyline class="series-${escapeHtml(s.name)}" fill="none" stroke="${s.color}" stroke-width="2" points="${points}"/>`)
    }
  }
  const legend = series.map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`).join('')
  return `<h2>${escapeHtml(title)}</h2>
<div class="legend">${legend}</div>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg>`
}

const mixText = (counts: Record<string, number>): string => Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')

function stageTable (result: SpikeResult): string {
  const hasOrigin = result.stages.some((s) => s.originRequests !== undefined)
  const rows = result.stages.map((s: StageReport) => {
    const load = s.rate === undefined ? `${s.connections} conn` : `${s.rate} req/s`
    const origin = hasOrigin ? `<td>${s.originRequests ?? ''}</td><td>${s.originRps ?? ''}</td><td class="mix">${escapeHtml(mixText(s.originByReason ?? {}))}</td>` : ''
    const gen = `${Math.round(s.generator.busy * 100)}%${s.generator.saturated ? ' <span class="warn">saturated</span>' : ''}`
    return `<tr><td>${escapeHtml(s.name)}${s.completed ? '' : ' (cut short)'}</td><td>${load}${s.ramp ? ' (ramp)' : ''}</td><td>${(s.durationMs / 1000).toFixed(1)} s</td><td>${s.requests}</td><td>${s.rps}</td><td>${s.latencyMs.p50}</td><td>${s.latencyMs.p99}</td><td>${s.latencyMs.p999}</td><td>${s.errors}</td><td class="mix">${escapeHtml(mixText(s.statuses))}</td><td class="mix">${escapeHtml(mixText(s.cache))}</td><td>${Math.round(s.hitRatio * 1000) / 10}%</td>${origin}<td>${gen}</td></tr>`
  })
  const originHead = hasOrigin ? '<th>origin requests</th><th>origin req/s</th><th>origin by reason</th>' : ''
  return `<table><tr><th>stage</th><th>load</th><th>time</th><th>requests</th><th>req/s</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>errors</th><th>statuses</th><th>X-Cache</th><th>hit ratio</th>${originHead}<th>generator</th></tr>${rows.join('')}</table>`
}

// The breakdown's table shows the busiest paths; report.json keeps every row.
const PATH_ROWS = 30

function pathTable (paths: readonly PathReport[]): string {
  if (paths.length === 0) return '<p>No requests.</p>'
  const rows = paths.slice(0, PATH_ROWS).map((p) => `<tr><td><code>${escapeHtml(p.path)}</code></td><td>${p.requests}</td><td class="mix">${escapeHtml(mixText(p.statuses))}</td><td class="mix">${escapeHtml(mixText(p.cache))}</td><td>${p.p99Ms}</td><td>${p.errors}</td><td>${p.errorRate}</td></tr>`)
  const more = paths.length > PATH_ROWS ? `<p>${paths.length - PATH_ROWS} more paths in report.json.</p>` : ''
  return `<table><tr><th>path</th><th>requests</th><th>statuses</th><th>X-Cache</th><th>p99 ms</th><th>errors</th><th>error rate</th></tr>${rows.join('')}</table>${more}`
}

function thresholdTable (result: SpikeResult): string {
  if (result.thresholds.length === 0) return '<p>No thresholds set.</p>'
  const rows = result.thresholds.map((r) => `<tr><td>${escapeHtml(r.name)}</td><td>${r.limit}</td><td>${r.value === null ? 'not measured' : Math.round(r.value * 1000) / 1000}</td><td>${r.ok ? '<span class="ok">ok</span>' : `<span class="bad">breached</span>${r.stageSecond === undefined ? '' : ` at second ${r.stageSecond} (t=${r.t ?? ''}s)`}`}</td></tr>`)
  return `<table><tr><th>threshold</th><th>limit</th><th>value</th><th></th></tr>${rows.join('')}</table>`
}
