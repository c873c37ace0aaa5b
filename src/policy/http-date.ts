/**
 * policy/http-date: the three HTTP-date forms a recipient must accept (RFC 9110 §5.6.7), and nothing else:
 * `Date.parse` accepts far more ("0", "tomorrow", ISO 8601), and an Expires it accepts by mistake could make a page
 * fresh for years. Pure.
 */
import type { HeaderValue } from '../core/headers.js'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
/** obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
/** obsolete asctime: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`)

/**
 * Epoch ms of an HTTP-date, or NaN when the text is not one of the three forms (or names no real instant). `now`
 * places an RFC 850 two-digit year.
 */
export function parseHttpDate (text: string, now: number): number {
  const s = text.trim()
  let m = IMF.exec(s)
  if (m !== null) return at(Number(m[3]), m[2] as string, Number(m[1]), m[4], m[5], m[6])
  m = RFC850.exec(s)
  if (m !== null) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future means the most recent past year so spelled.
    let year = 2000 + Number(m[3])
    if (year > new Date(now).getUTCFullYear() + 50) year -= 100
    return at(year, m[2] as string, Number(m[1]), m[4], m[5], m[6])
  }
  m = ASCTIME.exec(s)
  if (m !== null) return at(Number(m[6]), m[1] as string, Number((m[2] as string).trim()), m[3], m[4], m[5])
  return NaN
}

function at (year: number, month: string, day: number, h: string | undefined, mi: string | undefined, sec: string | undefined): number {
  const monthIndex = MONTHS.indexOf(month)
  const hours = Number(h)
  const minutes = Number(mi)
  const seconds = Number(sec)
  // 60 is allowed for a leap second (RFC 5322 §3.3); it reads as the next minute's first second.
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return NaN
  const ms = Date.UTC(year, monthIndex, day, hours, minutes, seconds)
  // 31 Feb would roll into March: not a date.
  return new Date(ms).getUTCDate() === day || seconds === 60 ? ms : NaN
}

/**
 * A singleton date field (Expires, Date, Last-Modified): undefined when absent; NaN when sent on several lines or
 * not an HTTP-date. Several lines is an error (RFC 9110 §5.3: a singleton field is not a list).
 */
export function parseDateField (value: HeaderValue, now: number): number | undefined {
  if (value === undefined) return undefined
  if (Array.isArray(value)) return value.length === 1 ? parseHttpDate(value[0] as string, now) : NaN
  return parseHttpDate(value, now)
}
