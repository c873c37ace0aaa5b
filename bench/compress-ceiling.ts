/**
 * The compress section's denominator: a bare node:http server answering the 100 KiB page (bench/page.ts) from memory
 * in the coding the client asks for (br, then gzip, else identity), the bytes made once at start with corral's
 * default levels, and the headers corral writes on such a hit. PORT sets the port.
 */
import { createServer } from 'node:http'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { makePage } from './page.js'

export const COMPRESS_PAGE = makePage(100 * 1024)

const port = Number(process.env.PORT)
const date = new Date().toUTCString()
const br = brotliCompressSync(COMPRESS_PAGE, { params: { [constants.BROTLI_PARAM_QUALITY]: 6, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: COMPRESS_PAGE.length } })
const gzip = gzipSync(COMPRESS_PAGE, { level: 6 })

function headers (body: Buffer, coding: string | null): string[] {
  return [
    'content-type', 'text/html; charset=utf-8', 'cache-control', 'public, max-age=3600', 'date', date, 'vary', 'Accept-Encoding',
    ...(coding === null ? [] : ['content-encoding', coding]), 'content-length', String(body.length),
    'etag', coding === null ? '"page"' : `W/"page-${coding}"`, 'via', '1.1 corral', 'age', '1', 'x-cache', 'HIT', 'cache-status', 'corral; hit; ttl=3599'
  ]
}
const answers = { br: headers(br, 'br'), gzip: headers(gzip, 'gzip'), identity: headers(COMPRESS_PAGE, null) }

if (process.env.PORT !== undefined) {
  createServer((req, res) => {
    const ae = req.headers['accept-encoding'] ?? ''
    if (ae.includes('br')) res.writeHead(200, answers.br).end(br)
    else if (ae.includes('gzip')) res.writeHead(200, answers.gzip).end(gzip)
    else res.writeHead(200, answers.identity).end(COMPRESS_PAGE)
  }).listen(port, '127.0.0.1')
}
