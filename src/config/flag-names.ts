/**
 * Flag names a config may use, checked when it loads. Pure. An incident switch that silently does nothing is worse
 * than none: `shedPrecent: 50` was accepted, logged as "flag changed" and exported, and nothing shed. Names other than
 * the built-ins are route switches, so a flag is known when it is built in or some route names it:
 * - a route naming a flag that is not defined is refused (with the closest defined name);
 * - a defined flag that is neither built in nor named by a route is refused when it is a near miss of a name corral
 *   reads (most likely a typo of it), and otherwise a warning (a switch kept for a route that is gone, say).
 */
import type { Config } from './types.js'
import type { Problem } from './schema-errors.js'
import { closestName } from './did-you-mean.js'

export interface FlagNameReport {
  readonly problems: readonly Problem[]
  readonly warnings: readonly Problem[]
}

export function checkFlagNames (config: Config, builtIns: readonly string[]): FlagNameReport {
  const problems: Problem[] = []
  const warnings: Problem[] = []
  const defined = Object.keys(config.flags)
  const named = new Set<string>()
  config.routes.forEach((route, i) => {
    if (route.flag === undefined) return
    named.add(route.flag)
    if (builtIns.includes(route.flag) || Object.hasOwn(config.flags, route.flag)) return
    const guess = closestName(route.flag, defined.filter((name) => !builtIns.includes(name)))
    const hint = guess === undefined ? 'add it there (true: the route serves, false: it is shed)' : `did you mean "${guess}"?`
    problems.push({ keyPath: `routes[${i}].flag`, reason: `"${route.flag}" must name a boolean flag in flags, and none is defined by that name; ${hint}` })
  })
  const readNames = [...builtIns, ...named]
  for (const name of defined) {
    if (builtIns.includes(name) || named.has(name)) continue
    const guess = closestName(name, readNames)
    if (guess !== undefined) {
      problems.push({ keyPath: `flags.${name}`, reason: `unknown flag; did you mean "${guess}"?` })
    } else {
      warnings.push({ keyPath: `flags.${name}`, reason: `no route names this flag (routes[].flag), so it switches nothing (built-in flags: ${builtIns.join(', ')})` })
    }
  }
  return { problems, warnings }
}
