import HashRing from 'hashring'

/**
 * Which memcached node owns a key: ketama (md5, 40 points × 4 replicas per node, hashring's defaults), the same
 * continuum libmemcached and other ketama clients compute, so adding or losing one of N nodes moves about 1/N of
 * the keys and other tools that speak ketama find the same entries.
 */
export class NodeRing {
  readonly nodes: readonly string[]
  readonly #ring: HashRing | undefined
  readonly #only: string

  constructor (nodes: readonly string[]) {
    assertNodes(nodes)
    this.nodes = [...nodes]
    this.#only = nodes[0] as string
    // One node needs no md5 per operation.
    this.#ring = nodes.length > 1 ? new HashRing([...nodes], 'md5', { compatibility: 'ketama' }) : undefined
  }

  nodeFor (key: string): string {
    return this.#ring?.get(key) ?? this.#only
  }
}

function assertNodes (nodes: readonly string[]): void {
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new TypeError(`expected a non-empty array of "host:port" nodes, got ${JSON.stringify(nodes)}`)
  }
  const seen = new Set<string>()
  for (const node of nodes) {
    if (typeof node !== 'string' || splitHostPort(node) === null) {
      throw new TypeError(`expected a node as "host:port" or "[ipv6]:port", got ${JSON.stringify(node)}`)
    }
    if (seen.has(node)) throw new TypeError(`node ${node} is listed twice`)
    seen.add(node)
  }
}

/**
 * `host:port` or `[ipv6]:port` → the host as net.connect takes it (no brackets) and the port; null when it is neither
 * or the port is outside 1-65535. memjs's own parser splits on every colon, so an IPv6 node needs this.
 */
export function splitHostPort (node: string): { host: string, port: number } | null {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(node)
  if (match === null) return null
  const port = Number(match[3])
  if (port < 1 || port > 65535) return null
  return { host: (match[1] ?? match[2]) as string, port }
}
