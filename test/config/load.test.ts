import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { assertAdminTokenForBoundHost, configVersion, isLoopbackHost, loadConfigFile, parseConfig } from '../../src/config/load.js'
import { problemsOf } from '../../src/config/schema-errors.js'
import { ConfigError } from '../../src/core/errors.js'

const ORIGIN = { url: 'http://127.0.0.1:3000' }
const dir = mkdtempSync(join(tmpdir(), 'corral-load-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

function parse (config: unknown): ReturnType<typeof parseConfig> {
  return parseConfig(JSON.stringify(config), dir)
}

/** The ConfigError a config is rejected with. */
function rejection (config: unknown): ConfigError {
  try {
    parseConfig(typeof config === 'string' ? config : JSON.stringify(config), dir)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).code).toBe('CORRAL_ERR_CONFIG')
    return err as ConfigError
  }
  throw new Error('expected the config to be rejected')
}

describe('parseConfig defaults', () => {
  it('fills every default from the schema', () => {
    const { config, version, shedPages } = parse({ origin: ORIGIN, routes: [{ match: '/api/' }] })
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080, requestTimeoutMs: 30000, headersTimeoutMs: 10000, keepAliveTimeoutMs: 5000, firstByteTimeoutMs: 5000, maxUnwrittenBytes: 8388608, drainDelayMs: 5000 })
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 9090 })
    expect(config.origin).toEqual({
      url: ORIGIN.url,
      timeoutMs: 10000,
      fillBodyTimeoutMs: 60000,
      connections: 128,
      retries: 1,
      maxInFlight: 0,
      queueSize: 256,
      queueTimeoutMs: 1000,
      health: { intervalMs: 2000, timeoutMs: 1000, upAfter: 2, downAfter: 3, failuresToEject: 1, ejectMs: 10000, maxEjectMs: 60000, errorRatePercent: 0, errorWindowRequests: 20, slowStartMs: 0 }
    })
    expect(config.origins).toEqual({})
    expect(config.cache.memory).toEqual({ maxBytes: 67108864, maxTtlSeconds: 1 })
    expect(config.cache.memcached).toMatchObject({ enabled: true, servers: [], timeoutMs: 50, prefix: 'corral:' })
    expect(config.cache.key.ignoreQueryParams).toContain('utm_source')
    expect(config.workers).toBe(1)
    expect(config.flags).toEqual({})
    expect(config.routes).toEqual([{ match: '/api/', origin: 'origin', priority: 'normal', whenShed: { status: 503, retryAfter: 5 } }])
    expect(config.log).toEqual({ level: 'info', access: true, format: 'json' })
    expect(version).toMatch(/^[0-9a-f]{12}$/)
    expect(shedPages.size).toBe(0)
  })

  it('versions the effective config: reformatting, reordering or writing out a default is not a change', () => {
    const text = JSON.stringify({ origin: ORIGIN, flags: { cacheOnly: false, shedPercent: 0 } })
    const version = parseConfig(text).version
    expect(parseConfig(text + '\n').version).toBe(version)
    expect(parseConfig(JSON.stringify({ flags: { shedPercent: 0, cacheOnly: false }, origin: ORIGIN }, null, 2)).version).toBe(version)
    expect(parseConfig(JSON.stringify({ origin: ORIGIN, flags: { cacheOnly: false, shedPercent: 0 }, listen: { port: 8080 } })).version).toBe(version)
    expect(parseConfig(JSON.stringify({ origin: ORIGIN, flags: { cacheOnly: true, shedPercent: 0 } })).version).not.toBe(version)
    // The watcher's pre-parse version agrees with the loaded one, so a reformatted file is skipped as unchanged.
    expect(configVersion(text + '\n\n')).toBe(version)
  })

  it('reads whenShed files relative to the config file', () => {
    writeFileSync(join(dir, 'lite.html'), '<p>lite</p>')
    const path = join(dir, 'proxy.config.json')
    writeFileSync(path, JSON.stringify({ origin: ORIGIN, routes: [{ match: '/', whenShed: { file: 'lite.html' } }] }))
    expect(loadConfigFile(path).shedPages.get(0)?.toString()).toBe('<p>lite</p>')
  })
})

describe('parseConfig errors name the key path', () => {
  it('broken JSON', () => {
    const err = rejection('{ "origin": ')
    expect(err.keyPath).toBe('')
    expect(err.message).toMatch(/invalid JSON/)
  })

  it('unknown key', () => {
    const err = rejection({ origin: ORIGIN, cache: { bogus: 1 } })
    expect(err.keyPath).toBe('cache.bogus')
    expect(err.message).toMatch(/^cache\.bogus: unknown key \(known here: memory, maxObjectBytes, /)
    expect(rejection({ origin: ORIGIN, listn: {} }).keyPath).toBe('listn')
  })

  it('wrong type', () => {
    const err = rejection({ origin: { ...ORIGIN, timeoutMs: 'soon' } })
    expect(err.keyPath).toBe('origin.timeoutMs')
    expect(err.message).toBe('origin.timeoutMs: must be a whole number (got "soon")')
    expect(rejection({ origin: ORIGIN, flags: { cacheOnly: 'yes' } }).keyPath).toBe('flags.cacheOnly')
    expect(rejection({ origin: ORIGIN, flags: { shedPercent: 101 } }).keyPath).toBe('flags.shedPercent')
    expect(rejection({ origin: ORIGIN, routes: [{ match: '/', priority: 'urgent' }] }).message)
      .toMatch(/^routes\[0\]\.priority: must be one of "critical", "normal", "sheddable"/)
  })

  it('missing origin.url', () => {
    const err = rejection({ origin: {} })
    expect(err.keyPath).toBe('origin.url')
    expect(err.message).toBe('origin.url: is required (or origin.servers, for several servers)')
    expect(rejection({}).keyPath).toBe('origin')
  })

  it('bad regex in routes[0].match', () => {
    const err = rejection({ origin: ORIGIN, routes: [{ match: '~^/article/(\\d+' }] })
    expect(err.keyPath).toBe('routes[0].match')
    expect(err.message).toMatch(/invalid regular expression/)
    expect(rejection({ origin: ORIGIN, routes: [{ match: '/' }, { match: 'api/' }] }).keyPath).toBe('routes[1].match')
  })

  it('route flag naming a missing (or non-boolean) flag', () => {
    const err = rejection({ origin: ORIGIN, routes: [{ match: '/comments', flag: 'comments' }] })
    expect(err.keyPath).toBe('routes[0].flag')
    expect(err.message).toMatch(/"comments" must name a boolean flag/)
    expect(rejection({ origin: ORIGIN, flags: { comments: 3 }, routes: [{ match: '/c', flag: 'comments' }] }).keyPath).toBe('routes[0].flag')
    expect(parse({ origin: ORIGIN, flags: { comments: { value: true } }, routes: [{ match: '/c', flag: 'comments' }] }).config.routes[0]?.flag).toBe('comments')
  })

  it('unreadable whenShed.file', () => {
    const err = rejection({ origin: ORIGIN, routes: [{ match: '/' }, { match: '/x', whenShed: { file: 'missing.html' } }] })
    expect(err.keyPath).toBe('routes[1].whenShed.file')
    expect(err.message).toMatch(/cannot read missing\.html: no such file \(ENOENT\)/)
    if (process.getuid?.() !== 0) {
      writeFileSync(join(dir, 'secret.html'), 'x')
      chmodSync(join(dir, 'secret.html'), 0o000)
      expect(rejection({ origin: ORIGIN, routes: [{ match: '/', whenShed: { file: 'secret.html' } }] }).keyPath).toBe('routes[0].whenShed.file')
    }
  })

  it('whenShed with both body and file', () => {
    const err = rejection({ origin: ORIGIN, routes: [{ match: '/', whenShed: { body: 'x', file: 'lite.html' } }] })
    expect(err.message).toBe('routes[0].whenShed: set body or file, not both')
  })

  it('a typo inside a { value, note } flag names the typo, not the flag type', () => {
    expect(rejection({ origin: ORIGIN, flags: { cacheOnly: { value: true, nte: 'x' } } }).message).toBe('flags.cacheOnly.nte: unknown key; did you mean "note"?')
    expect(rejection({ origin: ORIGIN, flags: { cacheOnly: { value: 'on' } } }).keyPath).toBe('flags.cacheOnly.value')
  })

  it('a route flag naming a built-in flag or an inherited property', () => {
    const err = rejection({ origin: ORIGIN, flags: { cacheOnly: true }, routes: [{ match: '/', flag: 'cacheOnly' }] })
    expect(err.keyPath).toBe('routes[0].flag')
    expect(err.message).toMatch(/built-in flag/)
    expect(rejection({ origin: ORIGIN, routes: [{ match: '/', flag: 'constructor' }] }).keyPath).toBe('routes[0].flag')
  })

  it('an origin URL with a query', () => {
    expect(rejection({ origin: { url: 'http://127.0.0.1:3000/?a=1' } }).keyPath).toBe('origin.url')
  })

  it('a missing config file', () => {
    const err = (() => {
      try { loadConfigFile(join(dir, 'nope.json')) } catch (e) { return e as ConfigError }
      throw new Error('expected a rejection')
    })()
    expect(err.code).toBe('CORRAL_ERR_CONFIG')
    expect(err.message).toMatch(/cannot read .*nope\.json: no such file \(ENOENT\)/)
  })
})

describe('corral check tells everything at once (issue 16)', () => {
  it('reports every problem, each with its key path and a sentence, and a guess for a misspelt key', () => {
    const err = rejection({
      origin: { ...ORIGIN, timeoutMs: 'soon' },
      listen: { prot: 80 },
      cache: { memroy: {}, memcached: { servers: ['127.0.0.1:11211', '127.0.0.1:99999'] } },
      flags: { cacheOnly: 'yes' },
      routes: [{ match: '/', priority: 'urgent' }]
    })
    expect(problemsOf(err)).toEqual([
      { keyPath: 'listen.prot', reason: 'unknown key; did you mean "port"?' },
      { keyPath: 'origin.timeoutMs', reason: 'must be a whole number (got "soon")' },
      { keyPath: 'cache.memroy', reason: 'unknown key; did you mean "memory"?' },
      { keyPath: 'cache.memcached.servers[1]', reason: expect.stringMatching(/^must be host:port with a port from 1 to 65535/) },
      { keyPath: 'flags.cacheOnly', reason: 'must be true or false or an object (got "yes")' },
      { keyPath: 'routes[0].priority', reason: 'must be one of "critical", "normal", "sheddable" (got "urgent")' }
    ])
    // The log line and /flags carry them all in one message, named after the first.
    expect(err.keyPath).toBe('listen.prot')
    expect(err.message).toMatch(/^listen\.prot: unknown key; did you mean "port"\?; origin\.timeoutMs: must be a whole number/)
  })

  it('checks beyond the schema report together too', () => {
    const err = rejection({ origin: ORIGIN, routes: [{ match: 'api/' }, { match: '/c', flag: 'nope' }, { match: '/', whenShed: { file: 'missing.html' } }] })
    expect(problemsOf(err).map((p) => p.keyPath)).toEqual(['routes[0].match', 'routes[1].flag', 'routes[2].whenShed.file'])
  })

  it('memcached servers: IPv6 in brackets and host names pass, ports outside 1-65535 and bare IPv6 do not', () => {
    const servers = ['127.0.0.1:11211', '[::1]:11211', '[fe80::1:2]:1', 'cache-1.internal:65535']
    expect(parse({ origin: ORIGIN, cache: { memcached: { servers } } }).config.cache.memcached.servers).toEqual(servers)
    for (const bad of ['127.0.0.1:99999', '127.0.0.1:0', '127.0.0.1:65536', '::1:11211', '[::1]', 'host', 'a b:1']) {
      expect(rejection({ origin: ORIGIN, cache: { memcached: { servers: [bad] } } }).keyPath, bad).toBe('cache.memcached.servers[0]')
    }
  })

  it('new keys refuse bad values naming the key', () => {
    expect(rejection({ origin: ORIGIN, listen: { drainDelayMs: -1 } }).keyPath).toBe('listen.drainDelayMs')
    expect(rejection({ origin: ORIGIN, listen: { drainDelayMs: 300_001 } }).message).toBe('listen.drainDelayMs: must be <= 300000 (got 300001)')
    expect(rejection({ origin: ORIGIN, log: { format: 'text' } }).message).toBe('log.format: must be one of "json", "pretty" (got "text")')
    expect(rejection({ origin: ORIGIN, admin: { token: 'a-long-admin-token-0123', tokenFile: 't' } }).message).toBe('admin: set token or tokenFile, not both')
  })
})

describe('the admin token outside the watched file (issue 16)', () => {
  const TOKEN = 'a-long-admin-token-from-elsewhere'

  it('comes from CORRAL_ADMIN_TOKEN, over the file', () => {
    const text = JSON.stringify({ origin: ORIGIN, admin: { host: '0.0.0.0', token: 'the-token-in-the-file-0123' } })
    expect(parseConfig(text, dir, { CORRAL_ADMIN_TOKEN: TOKEN }).config.admin.token).toBe(TOKEN)
    expect(parseConfig(text, dir, {}).config.admin.token).toBe('the-token-in-the-file-0123')
    // The environment satisfies the off-loopback rule too.
    expect(parseConfig(JSON.stringify({ origin: ORIGIN, admin: { host: '0.0.0.0' } }), dir, { CORRAL_ADMIN_TOKEN: TOKEN }).config.admin.token).toBe(TOKEN)
  })

  it('comes from admin.tokenFile, relative to the config, trimmed; a short or unreadable one is refused naming the source', () => {
    writeFileSync(join(dir, 'admin-token'), `${TOKEN}\n`)
    expect(parseConfig(JSON.stringify({ origin: ORIGIN, admin: { tokenFile: 'admin-token' } }), dir, {}).config.admin.token).toBe(TOKEN)
    const missing = rejection({ origin: ORIGIN, admin: { tokenFile: 'no-such-token' } })
    expect(missing.message).toBe('admin.tokenFile: cannot read no-such-token: no such file (ENOENT)')
    writeFileSync(join(dir, 'short-token'), 'short\n')
    expect(rejection({ origin: ORIGIN, admin: { tokenFile: 'short-token' } }).message).toBe('admin.tokenFile: the token must be at least 16 characters long (got 5)')
    let refused: unknown
    try { parseConfig(JSON.stringify({ origin: ORIGIN }), dir, { CORRAL_ADMIN_TOKEN: 'short' }) } catch (err) { refused = err }
    expect((refused as ConfigError).keyPath).toBe('CORRAL_ADMIN_TOKEN')
  })
})

describe('assertAdminTokenForBoundHost (a reload checked against the host the admin listener is bound to)', () => {
  const TOKEN = 'a-long-admin-token-0123456789'

  it('refuses an edit without a token while the listener is bound off loopback, whatever admin.host the edit names', () => {
    const edit = parse({ origin: ORIGIN, admin: { host: '127.0.0.1' } }).config
    let refused: unknown
    try {
      assertAdminTokenForBoundHost('0.0.0.0', edit)
    } catch (err) {
      refused = err
    }
    expect(refused).toBeInstanceOf(ConfigError)
    expect((refused as ConfigError).keyPath).toBe('admin.token')
    expect((refused as ConfigError).message).toMatch(/^admin\.token: is required while the admin listener is bound to 0\.0\.0\.0/)
    expect(() => assertAdminTokenForBoundHost('10.1.2.3', edit)).toThrow(/admin\.token/)
  })

  it('accepts an edit with a token, and any edit while the listener is bound to loopback', () => {
    expect(() => assertAdminTokenForBoundHost('0.0.0.0', parse({ origin: ORIGIN, admin: { host: '127.0.0.1', token: TOKEN } }).config)).not.toThrow()
    const noToken = parse({ origin: ORIGIN }).config
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', '[::1]', 'localhost', 'LOCALHOST']) {
      expect(() => assertAdminTokenForBoundHost(host, noToken), host).not.toThrow()
    }
  })

  it('isLoopbackHost is the test parseConfig applies to admin.host', () => {
    expect(['127.0.0.1', '::1', 'localhost'].map(isLoopbackHost)).toEqual([true, true, true])
    expect(['0.0.0.0', '::', '192.168.1.1', 'example.com', '127.0.0.1.example.com'].map(isLoopbackHost)).toEqual([false, false, false, false, false])
  })
})
