/**
 * Prints how deep src/'s import graph is: the most imports a chain follows from a module down to a leaf, type-only
 * imports included (a type is a dependency on a module's meaning). Exits 1 above MAX_DEPTH: a deep stack is a request
 * climbing through layers, and the layers (.dependency-cruiser.cjs, docs/architecture.md) allow about ten.
 */
import { cruise, type ICruiseResult } from 'dependency-cruiser'

const MAX_DEPTH = 10

/** The longest chain from each module, by its imports within src/. Circles are no-circular's to report: cut here. */
export function longestChain (graph: ReadonlyMap<string, readonly string[]>): string[] {
  const memo = new Map<string, string[]>()
  const open = new Set<string>()
  const chainFrom = (name: string): string[] => {
    const known = memo.get(name)
    if (known !== undefined) return known
    if (open.has(name)) return []
    open.add(name)
    let best: string[] = []
    for (const next of graph.get(name) ?? []) {
      const chain = chainFrom(next)
      if (chain.length > best.length) best = chain
    }
    open.delete(name)
    const chain = [name, ...best]
    memo.set(name, chain)
    return chain
  }
  let longest: string[] = []
  for (const name of graph.keys()) {
    const chain = chainFrom(name)
    if (chain.length > longest.length) longest = chain
  }
  return longest
}

const { output } = await cruise(['src'], {
  tsPreCompilationDeps: true,
  doNotFollow: { path: 'node_modules' },
  includeOnly: '^src/'
})
const graph = new Map<string, string[]>()
for (const module of (output as ICruiseResult).modules) {
  graph.set(module.source, module.dependencies.map((d) => d.resolved).filter((to) => to.startsWith('src/')))
}
const chain = longestChain(graph)
const depth = chain.length - 1
console.log(`import depth of src/: ${depth} (at most ${MAX_DEPTH})\n  ${chain.join('\n  → ')}`)
if (depth > MAX_DEPTH) process.exitCode = 1
