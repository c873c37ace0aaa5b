/** Which corral this is: the package's version, read once (`corral --version`, corral_build_info). */
import { readFileSync } from 'node:fs'

/** From package.json, two levels up from both src/core/ (tsx, tests) and dist/core/ (the installed bin). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
