/**
 * corral's layers, checked by `npm run layers` (and so by `npm run check` and CI). docs/architecture.md draws them:
 *
 *   ops/, cli.ts                 the process: commands, cluster, respawn
 *   proxy.ts, proxy-*.ts         wiring: builds the parts, reconciles a reload
 *   pipeline.ts, exchange.ts     the driver: runs the steps of one request (admin.ts: of an operator's request)
 *   stages (side by side)        shed, key, coalesce/, fill, pass, deliver, invalidate, purge/, receive
 *   policy/ store/ origin/ config/
 *   core/                        imports nothing of the project
 *
 * A rule names the layer it keeps; a failure prints that name. There is no list of tolerated violations: a new one
 * fails the build.
 */
// A stage is a folder or a file and its `name-*.ts` parts (shed.ts, shed-routes.ts, shed-answer.ts are one stage).
const STAGES = '^src/(coalesce|purge|shed|fill|pass|deliver|invalidate|receive|asterisk-form)[/.-]'
// admin.ts drives an operator's request (/purge, /flags, /metrics) the way pipeline.ts drives a client's.
const DRIVER = '^src/(pipeline|exchange|admin)\\.ts$'
const WIRING = '^src/proxy[a-z-]*\\.ts$'
const OPS = '^src/(ops/|cli\\.ts$)'
// key.ts is pure (URL, Host and settings in, a key out) and every stage that names an entry needs it: lookup, the
// fill, the lease, purges. It sits below the stages beside policy/, so each builds keys the one way.
const LOWER = '^src/(policy|store|origin|config)/|^src/key\\.ts$'

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle has no bottom: neither side can be read, tested or changed first.',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'core-imports-nothing',
      severity: 'error',
      comment: 'core/ holds what every layer shares (errors, headers, log, clock); it imports nothing of the project.',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/(core/|types/)' }
    },
    {
      name: 'policy-is-pure-and-below-stages',
      severity: 'error',
      comment: 'policy/ is RFC decisions taking `now`: it imports only core/ and itself, and nothing that does I/O.',
      from: { path: '^src/policy/' },
      to: { path: '^src/', pathNot: '^src/(core|policy)/' }
    },
    {
      name: 'policy-does-no-io',
      severity: 'error',
      comment: 'A decision that opens a socket, a file or a timer is no longer unit-testable without one.',
      from: { path: '^src/policy/' },
      to: {
        dependencyTypesNot: ['type-only'],
        path: '^(node:)?(fs|fs/promises|net|http|https|http2|dgram|dns|child_process|cluster|worker_threads|timers|timers/promises)$|^(undici|memjs|pino)$'
      }
    },
    {
      name: 'store-knows-no-http',
      severity: 'error',
      comment: 'The store keeps entries by key: it knows nothing of requests, policy, the origin or the config file.',
      from: { path: '^src/store/' },
      to: { path: '^src/', pathNot: '^src/(core|store|types)/' }
    },
    {
      name: 'origin-below-stages',
      severity: 'error',
      comment: 'origin/ talks to the origin servers; it reads its config and core/, never the cache or a stage.',
      from: { path: '^src/origin/' },
      to: { path: '^src/', pathNot: '^src/(core|config|origin|types)/' }
    },
    {
      name: 'config-validates-itself',
      severity: 'error',
      comment: 'config/ loads and checks the whole config (origin groups included) with core/ only.',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/(core|config)/' }
    },
    {
      name: 'lower-layers-not-up',
      severity: 'error',
      comment: 'policy, store, origin and config sit below the stages, the driver, the wiring and ops.',
      from: { path: LOWER },
      to: { path: [STAGES, DRIVER, WIRING, OPS, '^src/spike/'] }
    },
    {
      name: 'stages-side-by-side',
      severity: 'error',
      comment: 'A stage answers one question and returns; the driver passes values between stages. One stage calling ' +
        'another is the climb up and down a request took before.',
      from: { path: STAGES },
      // One exception, the miss road itself: coalesce/ decides who fetches and runs that one fill (fill.ts), the
      // coalesce ► fetch ► store row of the step table.
      to: { path: STAGES, pathNot: ['^src/$1[/.-]', '^src/fill\\.ts$'] }
    },
    {
      name: 'stages-not-up-to-driver',
      severity: 'error',
      comment: 'Stages take plain values from the driver and return results; none sees the Exchange or the pipeline.',
      from: { path: STAGES },
      to: { path: [DRIVER, WIRING, OPS] }
    },
    {
      name: 'request-path-not-ops',
      severity: 'error',
      comment: 'Serving a request needs nothing of the process commands, the cluster or respawning.',
      from: { path: '^src/', pathNot: [OPS] },
      to: { path: OPS }
    },
    {
      name: 'driver-not-wiring',
      severity: 'error',
      comment: 'The driver runs one request with the parts it was handed; building them is the wiring’s job.',
      from: { path: DRIVER },
      to: { path: WIRING }
    },
    {
      name: 'spike-stands-apart',
      severity: 'error',
      comment: 'The load generator (corral spike) is a separate tool: it shares core/ and config errors, not the proxy.',
      from: { path: '^src/spike/' },
      to: { path: '^src/', pathNot: '^src/(spike|core|config)/' }
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      from: {},
      to: { couldNotResolve: true }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a type is a dependency on the module's meaning, and circles through types are circles.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: { text: { highlightFocused: true } }
  }
}
