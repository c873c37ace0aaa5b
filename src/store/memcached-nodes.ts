/**
 * memcached-nodes: the memjs client of every node, our own ring, and each node's health. Runs one operation on the
 * node that owns a key, with our deadline, and judges the node by how it went: a node marked down gets a new client
 * and is skipped, with nothing sent, until its probe answers. Never rejects: a failed operation resolves FAILED.
 */
import { performance } from 'node:perf_hooks'
import memjs from 'memjs'
import { systemClock, type Clock } from '../core/clock.js'
import { CorralError } from '../core/errors.js'
import { isLoopStall, NodeHealth, type NodeState, type OperationOutcome } from './node-health.js'
import { NodeRing, splitHostPort } from './ring.js'
import { batchWrites } from './write-batching.js'
import { bufferReads } from './read-buffering.js'
import { makeLeanGet, type LeanGet } from './lean-get.js'

export type SkipReason = 'too-large' | 'node-down'

/** What the nodes are told: memcached-store's options, less what only the store reads. */
export interface NodeOptions {
  readonly servers: readonly string[]
  readonly timeoutMs: number
  readonly retryDownMs: number
  readonly onError?: ((server: string, op: string, err: unknown) => void) | undefined
  readonly onSkip?: ((reason: SkipReason) => void) | undefined
  readonly onNodeDown?: ((server: string, reason: string) => void) | undefined
  readonly onNodeUp?: ((server: string, downMs: number) => void) | undefined
  readonly probeDownNodes?: boolean | undefined
  readonly clock?: Clock | undefined
}

/** A node's state for /flags and `corral_memcached_up`. */
export interface MemcachedNodeState extends NodeState {
  readonly server: string
}

export interface MemcachedNode {
  readonly address: string
  readonly health: NodeHealth
  /**
   * Replaced whenever the node is marked down: memjs keeps its response buffer across connections, so the partial
   * bytes of a reset mid-response (or memcached's text "ERROR Too many open connections") would be read in front of
   * every later answer on every new connection, and the node would never come back.
   */
  client: memjs.Client
  /** `client`'s get, its request built in one allocation (lean-get.ts); replaced with the client. */
  get: LeanGet
  /** Bumped with each new client: what the replaced client's operations report no longer says anything about the node. */
  generation: number
}

export const FAILED: unique symbol = Symbol('failed')
export type Failed = typeof FAILED
export type Done<T> = (err: Error | null, value: T) => void

const silentLogger = { log () {} }

export class MemcachedNodes {
  readonly #nodes = new Map<string, MemcachedNode>()
  readonly #ring: NodeRing
  readonly #timeoutMs: number
  readonly #options: NodeOptions
  readonly #clock: Clock
  readonly #clientSeconds: number
  readonly #nodeBack: Array<() => void> = []
  readonly #probeKey: string
  #closed = false

  /** `probeKey`: the item a connect and a probe read (any key: only the answer matters). */
  constructor (options: NodeOptions, probeKey: string) {
    this.#options = options
    this.#ring = new NodeRing(options.servers)
    this.#timeoutMs = options.timeoutMs
    this.#clock = options.clock ?? systemClock
    // Our deadline bounds each request; memjs's own, longer one tears down a socket that is truly stuck (its
    // timeout errors every pending operation on the connection, so it must not fire on a merely late answer).
    this.#clientSeconds = Math.max(options.timeoutMs * 10, 1000) / 1000
    for (const address of this.#ring.nodes) {
      const client = this.#newClient(address)
      this.#nodes.set(address, { address, health: new NodeHealth(options.retryDownMs), client, get: makeLeanGet(client), generation: 0 })
    }
    // Connect now, not inside the first burst of requests: a connect in a cold burst is the slowest operation.
    this.#probeKey = probeKey
    this.ready = Promise.all([...this.#nodes.values()].map(async (node) => {
      await this.call<unknown>(node, 'connect', (done) => node.client.get(probeKey, (err, value) => done(err, value)))
    })).then(() => {})
  }

  /** Resolves once every node has been tried (connected, refused or timed out); never rejects. */
  readonly ready: Promise<void>

  /** false while the node that owns `itemKey` is marked down, or once closed. */
  isReachable (itemKey: string): boolean {
    if (this.#closed) return false
    return !(this.#nodes.get(this.#ring.nodeFor(itemKey)) as MemcachedNode).health.isDown
  }

  onNodeBack (listener: () => void): void {
    this.#nodeBack.push(listener)
  }

  close (): void {
    this.#closed = true
    for (const node of this.#nodes.values()) node.client.close()
  }

  /** Every node's state, in the configured order (read at scrape and by /flags, never per request). */
  states (): MemcachedNodeState[] {
    return [...this.#nodes.values()].map(node => ({ server: node.address, ...node.health.state() }))
  }

  #newClient (address: string): memjs.Client {
    const options = {
      retries: 0,
      failover: false,
      timeout: this.#clientSeconds,
      conntimeout: this.#clientSeconds,
      keepAlive: true,
      logger: silentLogger
    }
    // Built from the ring's own parse, not memjs.Client.create's, which splits `[::1]:11211` on every colon.
    const { host, port } = splitHostPort(address) as { host: string, port: number }
    const client = new memjs.Client([new memjs.Server(host, port, undefined, undefined, options)], options)
    batchWrites(client)
    bufferReads(client)
    return client
  }

  /** The node that owns `itemKey`, or undefined while it is marked down (or the store is closed). */
  pick (itemKey: string): MemcachedNode | undefined {
    if (this.#closed) return undefined
    const node = this.#nodes.get(this.#ring.nodeFor(itemKey)) as MemcachedNode
    if (node.health.admit(this.#clock.now()) !== 'skip') return node
    this.#options.onSkip?.('node-down')
    return undefined
  }

  /** MemcachedNode state after one operation of the current client settled; a node marked down gets a new client. */
  #judge (node: MemcachedNode, outcome: OperationOutcome, start: ReturnType<NodeHealth['start']>, err: unknown): void {
    const now = this.#clock.now()
    const downSince = node.health.state().downSince
    const settled = node.health.settle(outcome, start, now)
    if (settled.markedDown) {
      node.generation++
      node.client.close()
      if (!this.#closed) {
        node.client = this.#newClient(node.address)
        node.get = makeLeanGet(node.client)
      }
      // One timer per mark: a failed probe marks the node again and so schedules the next one.
      if (this.#options.probeDownNodes === true && !this.#closed) {
        setTimeout(() => { this.#probe(node) }, this.#options.retryDownMs).unref()
      }
    }
    if (settled.transition === 'down') {
      this.#options.onNodeDown?.(node.address, (err as Error | undefined)?.message ?? String(err))
    } else if (settled.transition === 'up') {
      this.#options.onNodeUp?.(node.address, now - (downSince ?? now))
      for (const listener of this.#nodeBack) listener()
    }
  }

  /** Probes a down node whose time is up, unless an operation already is (or it is up again). */
  #probe (node: MemcachedNode): void {
    if (this.#closed) return
    if (node.health.admit(this.#clock.now()) !== 'probe') {
      // A timer can fire a little before the clock reaches the node's deadline (timers and the wall clock drift
      // apart): look again shortly, or the chain of probes would end and, with no operation asking, the node would
      // never be seen back. An operation already probing decides the next step itself.
      if (node.health.isDown && !node.health.isProbing) setTimeout(() => { this.#probe(node) }, Math.min(50, this.#options.retryDownMs)).unref()
      return
    }
    const probeKey = this.#probeKey
    // call never rejects; the catch is for the linter's sake and a future change.
    this.call<unknown>(node, 'probe', (done) => node.client.get(probeKey, (err, value) => done(err, value))).catch(() => {})
  }

  /**
   * Runs one memjs call with our deadline (`timeoutMs`, the store's by default; chunks of a large entry get longer:
   * memcached.ts); resolves FAILED (never rejects) on an error or a timeout.
   */
  call<T> (node: MemcachedNode, op: string, send: (done: Done<T>) => void, timeoutMs = this.#timeoutMs): Promise<T | Failed> {
    return new Promise(resolve => {
      let settled = false
      const generation = node.generation
      const start = node.health.start()
      const finish = (err: unknown, value: T | Failed): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        // An operation of a client replaced since it started: the node was already judged (and marked down).
        if (node.generation === generation) this.#judge(node, outcomeOf(err), start, err)
        if (err === null) {
          resolve(value)
          return
        }
        node.health.countError()
        this.#options.onError?.(node.address, op, err)
        resolve(FAILED)
      }
      const sentAt = performance.now()
      const timer = setTimeout(() => {
        // A timer late on a stalled event loop is no evidence against the node (node-health.ts isLoopStall).
        const stalled = isLoopStall(performance.now() - sentAt - timeoutMs, timeoutMs)
        // After an event-loop stall, expired timers run before the poll phase reads the answers already waiting on
        // the socket: every operation in flight would time out in the same pass. Decide after that poll phase.
        setImmediate(() => {
          finish(Object.assign(new CorralError('CORRAL_ERR_MEMCACHED_TIMEOUT', `memcached ${op} on ${node.address} took over ${timeoutMs} ms`, 503), { stalled }), FAILED)
        })
      }, timeoutMs)
      timer.unref()
      try {
        send((err, value) => finish(err, value))
      } catch (err) {
        finish(err ?? new Error('memjs threw'), FAILED)
      }
    })
  }
}

/**
 * memjs words a non-success status from the server ("Value too large", "Out of memory") as `MemJS <OP>: …`. The
 * node answered, so it is not down; transport errors (refused, reset, timed out) carry other messages.
 */
function outcomeOf (err: unknown): OperationOutcome {
  if (err === null || (err instanceof Error && err.message.startsWith('MemJS '))) return 'answered'
  const { code, stalled } = err as { code?: string, stalled?: boolean }
  if (code !== 'CORRAL_ERR_MEMCACHED_TIMEOUT') return 'failed'
  return stalled === true ? 'stalled' : 'timed-out'
}
