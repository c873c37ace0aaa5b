/**
 * What a test opens (origins, proxies, raw client sockets), closed after each test: sockets first, then the rest last
 * opened first, so a proxy closes before the origin it holds connections to. Call once per file, at the top.
 */
import type { Socket } from 'node:net'
import { afterEach } from 'vitest'

interface Closable { close (): Promise<void> }

export function closeAfterEach (): { opened: <T extends Closable>(thing: T) => T, sockets: Socket[] } {
  const things: Closable[] = []
  const sockets: Socket[] = []
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy()
    for (const thing of things.splice(0).reverse()) await thing.close()
  })
  return { opened: (thing) => { things.push(thing); return thing }, sockets }
}
