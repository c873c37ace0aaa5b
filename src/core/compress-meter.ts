/**
 * core/compress-meter: the /metrics side of compression. Counted per fill (never per hit): bytes in and out and seconds
 * spent, by coding and by direction (`encode`: corral compressed; `decode`: an origin's coded body was checked and
 * decoded). Bytes out over bytes in is the ratio each coding achieves on this site's pages.
 */
import { Counter, type Registry } from 'prom-client'
import type { ContentCoding } from './entry.js'

/** /metrics: bytes in and out and time spent per coding, counted by the fill (fill-compress.ts). */
export interface CompressMeter {
  encoded (coding: ContentCoding, inBytes: number, outBytes: number, seconds: number): void
  decoded (coding: ContentCoding, inBytes: number, outBytes: number, seconds: number): void
}

export function makeCompressMeter (registry: Registry): CompressMeter {
  const registers = [registry]
  const labelNames = ['encoding', 'op'] as const
  const input = new Counter({ name: 'corral_compress_input_bytes_total', help: 'Bytes handed to compression (op=encode: identity) or decoding (op=decode: the origin\'s coded body), by coding', labelNames, registers })
  const output = new Counter({ name: 'corral_compress_output_bytes_total', help: 'Bytes out of compression (coded) or decoding (identity), by coding', labelNames, registers })
  const seconds = new Counter({ name: 'corral_compress_seconds_total', help: 'Time spent compressing or decoding at fill time (on the thread pool), by coding', labelNames, registers })
  const record = (op: 'encode' | 'decode', coding: ContentCoding, inBytes: number, outBytes: number, s: number): void => {
    input.labels(coding, op).inc(inBytes)
    output.labels(coding, op).inc(outBytes)
    seconds.labels(coding, op).inc(s)
  }
  return {
    encoded: (coding, inBytes, outBytes, s) => { record('encode', coding, inBytes, outBytes, s) },
    decoded: (coding, inBytes, outBytes, s) => { record('decode', coding, inBytes, outBytes, s) }
  }
}
