/**
 * compress/settings: cache.compress, resolved once when the config loads into what fills read (STYLE §7.3: nothing
 * is re-checked per request), and the line `corral check` prints about it. Pure.
 */
import type { CompressConfig } from '../config/types.js'
import { hasCoding } from './codings.js'
import { makeTypeMatcher, type CompressSettings } from '../policy/compress.js'

/** undefined: compression off (nothing listed the runtime can make, or enabled: false). */
export function makeCompressSettings (c: CompressConfig): CompressSettings | undefined {
  if (!c.enabled) return undefined
  const codings = c.encodings.filter(hasCoding)
  if (codings.length === 0) return undefined
  return {
    codings,
    isCompressibleType: makeTypeMatcher(c.types),
    minBytes: c.minBytes,
    maxBytes: c.maxBytes,
    brotliQuality: c.brotliQuality,
    gzipLevel: c.gzipLevel,
    zstdLevel: c.zstdLevel
  }
}

/** What `corral check` says about compression, including a coding this runtime cannot make. */
export function describeCompress (c: CompressConfig): string[] {
  if (!c.enabled) return ['compression: off (cache.compress.enabled is false)']
  const lines: string[] = []
  const missing = c.encodings.filter((coding) => !hasCoding(coding))
  for (const coding of missing) lines.push(`compression: ${coding} is not available in Node ${process.versions.node} (zstd needs 22.15+): skipped`)
  const codings = c.encodings.filter(hasCoding)
  if (codings.length === 0) lines.push('compression: off (no listed coding is available)')
  else {
    const levels = codings.map((coding) => coding === 'br' ? `br q${c.brotliQuality}` : coding === 'gzip' ? `gzip ${c.gzipLevel}` : `zstd ${c.zstdLevel}`)
    lines.push(`compression: ${levels.join(', ')} at fill time, for ${c.types.join(' ')}, ${c.minBytes}-${c.maxBytes} bytes`)
  }
  return lines
}
