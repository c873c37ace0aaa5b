/**
 * A V8 .cpuprofile (what `node --cpu-prof` writes) boiled down to the frames that cost the most, in microseconds per
 * request: where a hit's time goes. Pure: bench/profile-hit.ts reads the file and prints the result.
 */

/** The parts of the .cpuprofile format (Chrome DevTools Protocol, Profiler.Profile) this reads. */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: { readonly functionName: string, readonly url: string, readonly lineNumber: number }
    readonly children?: readonly number[]
  }>
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface Frame {
  /** `name file:line`, the file shortened to what follows node_modules/ or the project's folders. */
  readonly frame: string
  /** Time spent in the frame itself, and in it plus what it called, µs per request. */
  readonly selfUs: number
  readonly totalUs: number
}

export interface ProfileSummary {
  /** Sampled time that was not idle (the event loop waiting in epoll), µs per request. */
  readonly busyUs: number
  /** Garbage collection's share of the busy time, µs per request. */
  readonly gcUs: number
  readonly bySelf: Frame[]
  readonly byTotal: Frame[]
}

/** V8's pseudo-frames: (idle) is the loop waiting; (program) is native work V8 cannot attribute; (garbage collector). */
const IDLE = '(idle)'
const GC = '(garbage collector)'
const ROOT = '(root)'

/** The frames of `profile` by self and by total time, `top` of each, per request over `requests` answered. */
export function summarizeProfile (profile: CpuProfile, requests: number, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfOfNode = new Map<number, number>()
  // timeDeltas[i] is the time before sample i: the time after sample i is timeDeltas[i + 1].
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number
    const dt = profile.timeDeltas[i + 1] ?? 0
    selfOfNode.set(id, (selfOfNode.get(id) ?? 0) + Math.max(0, dt))
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let busy = 0
  let gc = 0
  for (const [id, us] of selfOfNode) {
    const node = byId.get(id)
    if (node === undefined || node.callFrame.functionName === IDLE) continue
    busy += us
    if (node.callFrame.functionName === GC) gc += us
    const name = frameName(node.callFrame)
    self.set(name, (self.get(name) ?? 0) + us)
    // A frame counts once per sample however often it recurses on the stack.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)
      if (frame === undefined || frame.callFrame.functionName === ROOT) break
      const n = frameName(frame.callFrame)
      if (seen.has(n)) continue
      seen.add(n)
      total.set(n, (total.get(n) ?? 0) + us)
    }
  }
  const per = (us: number): number => requests > 0 ? us / requests : NaN
  const frames = [...self.keys(), ...[...total.keys()].filter((k) => !self.has(k))]
    .map((frame) => ({ frame, selfUs: per(self.get(frame) ?? 0), totalUs: per(total.get(frame) ?? 0) }))
  return {
    busyUs: per(busy),
    gcUs: per(gc),
    bySelf: [...frames].sort((a, b) => b.selfUs - a.selfUs).slice(0, top),
    byTotal: [...frames].sort((a, b) => b.totalUs - a.totalUs).slice(0, top)
  }
}

function frameName (frame: CpuProfile['nodes'][number]['callFrame']): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName
  if (frame.url === '') return name
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`
}

/** `node:internal/…` stays; a project file keeps its path from dist/ or src/; a dependency from its package name. */
export function shortUrl (url: string): string {
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length)
  const own = /\/(dist|src|bench)\/(.*)$/.exec(url)
  if (own !== null) return `${own[1] ?? ''}/${own[2] ?? ''}`
  return url.replace(/^file:\/\//, '')
}
