/**
 * runtime: the node flag corral wants on the command line. Pure.
 *
 * V8's memory reducer runs memory-reducing full collections once a process goes quiet after a full collection. On
 * node 20 (V8 11.3) the first of them leaves the process slower for good: it throws away optimised code whose maps
 * died while idle, and from then on object literals with computed keys (the tick object behind every process.nextTick,
 * several per response) take a slow path. Measured on a cache hit: 27 µs of CPU per request before, 34-38 µs after, for
 * the life of the process (docs/benchmarks.md). A proxy idles at night and meets its spike in the morning, so it runs
 * with `--no-memory-reducer` and keeps its heap instead. V8 reads the flag when it sets the heap up: it has to be on
 * node's command line (`npm start` passes it; NODE_OPTIONS does not accept it), and cluster workers get it from here.
 */
export const NO_MEMORY_REDUCER = '--no-memory-reducer'

/** Whether node's command line says anything about the memory reducer (an operator's `--memory-reducer` wins). */
export function choosesMemoryReducer (execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => /^--(no-)?memory[-_]reducer$/.test(arg))
}

/** Node's arguments for a cluster worker: the primary's, with the memory reducer off unless they choose. */
export function workerExecArgv (execArgv: readonly string[]): string[] {
  return choosesMemoryReducer(execArgv) ? [...execArgv] : [...execArgv, NO_MEMORY_REDUCER]
}

/** Set in the environment of a process corral started again with NO_MEMORY_REDUCER: it never respawns itself twice. */
export const RESPAWNED_ENV = 'CORRAL_RESPAWNED'

/**
 * How to run `corral serve` again without the memory reducer, or null to go on in this process: when node's command
 * line already says anything about it (the operator's `--memory-reducer` wins), in a cluster worker (the primary
 * gave it the flag), or when this process is itself the respawned one (a node that ignored the flag must not loop).
 * The new process is node with this one's flags (tsx's loader, --inspect, …) plus NO_MEMORY_REDUCER, and the same
 * script and arguments.
 */
export function respawnArgs (
  execArgv: readonly string[], argv: readonly string[], env: Readonly<Record<string, string | undefined>>, isWorker: boolean
): string[] | null {
  if (argv[2] !== 'serve' || isWorker || env[RESPAWNED_ENV] !== undefined || choosesMemoryReducer(execArgv)) return null
  if (argv.includes('--help') || argv.includes('-h')) return null
  return [...execArgv, NO_MEMORY_REDUCER, ...argv.slice(1)]
}
