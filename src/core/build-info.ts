/** Which corral this is: the package's version, read once (`corral --version`, corral_build_info). */
import { readFileSync } from 'node:fs'

/**
 * From package.json, two levels up from both src/core/ (tsx, tests) and dist/core/ (the installed bin). A build run
 * from a copy of dist/ (the benchmark's snapshot) has no package.json there: the version is then unknown, never a
 * crash at start-up.
 */
export const VERSION: string = readVersion(new URL('../../package.json', import.meta.url))

function readVersion (file: URL): string {
  try {
    const version = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version
    return typeof version === 'string' ? version : 'unknown'
  } catch {
    return 'unknown'
  }
}
