/** Issue 16 item 4: metrics an SRE can alert on, read from the admin listener's /metrics. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answer, startOrigin, type TestOrigin } from '../helpers/origin.js'
import { get, startProxy, type TestProxy } from '../helpers/proxy.js'
import { metricValue } from '../helpers/proxy-process.js'
import { VERSION } from '../../src/core/build-info.js'

describe('/metrics', () => {
  let origin: TestOrigin
  let proxy: TestProxy
  beforeAll(async () => {
    origin = await startOrigin(async (req, res) => {
      if (req.url === '/broken') res.destroy()
      else await answer(200, { 'cache-control': 'max-age=60' }, 'ok')(req, res, 0)
    })
    proxy = await startProxy(origin.url, { flags: { cacheOnly: false, shedPercent: 12.5, comments: { value: true, note: 'n' } } })
  })
  afterAll(async () => {
    await proxy.close()
    await origin.close()
  })

  async function metrics (): Promise<string> {
    return await (await fetch(`${proxy.adminUrl}/metrics`)).text()
  }

  it('counts responses by X-Cache and client status code', async () => {
    await get(`${proxy.url}/page`)
    await get(`${proxy.url}/page`)
    expect((await get(`${proxy.url}/broken`)).status).toBe(502)
    const text = await metrics()
    expect(metricValue(text, 'corral_requests_total{cache="MISS",code="200"}')).toBe(1)
    expect(metricValue(text, 'corral_requests_total{cache="HIT",code="200"}')).toBe(1)
    expect(metricValue(text, 'corral_requests_total{cache="MISS",code="502"}')).toBe(1)
  })

  it('exports prom-client\'s process and node metrics', async () => {
    const text = await metrics()
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'))
    }
    expect(metricValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0)
  })

  it('exports each flag\'s value, the build and the config in force', async () => {
    const text = await metrics()
    expect(metricValue(text, 'corral_flag{name="cacheOnly"}')).toBe(0)
    expect(metricValue(text, 'corral_flag{name="shedPercent"}')).toBe(12.5)
    expect(metricValue(text, 'corral_flag{name="comments"}')).toBe(1)
    expect(metricValue(text, `corral_build_info{version="${VERSION}",node="${process.versions.node}"}`)).toBe(1)
    expect(metricValue(text, `corral_config_info{version="${proxy.proxy.loaded.version}"}`)).toBe(1)
    const loadedAt = metricValue(text, 'corral_config_last_reload_timestamp_seconds')
    expect(Math.abs(loadedAt - Date.now() / 1000)).toBeLessThan(600)
    expect(metricValue(text, 'corral_config_last_reload_successful')).toBe(1)
  })

  it('follows a reload: the new flag values and config version', async () => {
    const { loaded } = proxy.proxy
    const next = { ...loaded, version: 'edited000000', config: { ...loaded.config, flags: { ...loaded.config.flags, cacheOnly: true } } }
    proxy.proxy.apply(next)
    const text = await metrics()
    expect(metricValue(text, 'corral_flag{name="cacheOnly"}')).toBe(1)
    expect(metricValue(text, 'corral_config_info{version="edited000000"}')).toBe(1)
    expect(text).not.toContain(`corral_config_info{version="${loaded.version}"}`)
  })
})
