// The architecture's rules, checked by `pnpm check:deps` (part of `pnpm test`); test/architecture.test.ts
// shows each rule failing on a forbidden import. Tests and their helpers are outside the cruise: a
// test may import anything it exercises.
const PRODUCTION = '^packages/(engine|protocol|nats-client|controller|agent)/src/';
const IO_PACKAGES = '^(@nats-io|pino|ssh2|commander|cli-progress|tsx|msgpackr-extract)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment:
        'a directory that needs another which needs it back is one unit in two places: merge them or split out what both need',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      comment: 'module cycles make load order matter and hide the real layering',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-no-io',
      comment:
        'the engine is a pure library (a solver): no file, network, process or clock modules; the caller does the I/O',
      severity: 'error',
      from: { path: '^packages/engine/src/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'engine-no-io-packages',
      comment: 'the engine depends on zod and the protocol types only: no NATS client, logger, CLI or SSH library',
      severity: 'error',
      from: { path: '^packages/engine/src/' },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'],
        pathNot: '/zod/',
      },
    },
    {
      name: 'engine-only-protocol',
      comment: 'the engine may use the wire types of @entropy/protocol and nothing else of the workspace',
      severity: 'error',
      from: { path: '^packages/engine/src/' },
      to: { path: '^packages/(nats-client|controller|agent|bench|test-support)/' },
    },
    {
      name: 'protocol-is-a-leaf',
      comment: 'every package depends on the protocol; it depends on none of them, and does no I/O',
      severity: 'error',
      from: { path: '^packages/protocol/src/' },
      to: {
        path: ['^packages/(engine|nats-client|controller|agent|bench|test-support)/', IO_PACKAGES],
        dependencyTypes: ['core', 'local', 'npm'],
      },
    },
    {
      name: 'agent-not-controller',
      comment:
        'the agent ships alone to every node: it shares only the protocol and the NATS client settings with the controller',
      severity: 'error',
      from: { path: '^packages/agent/src/' },
      to: { path: '^packages/(controller|engine|bench|test-support)/' },
    },
    {
      name: 'controller-not-agent',
      comment: 'the controller talks to agents over NATS only, never through their code',
      severity: 'error',
      from: { path: '^packages/controller/src/' },
      to: { path: '^packages/agent/' },
    },
    {
      name: 'engine-through-its-index',
      comment: "other packages use the engine's public API (packages/engine/src/index.ts), not its files",
      severity: 'error',
      from: { pathNot: '^packages/engine/' },
      to: { path: '^packages/engine/src/', pathNot: '^packages/engine/src/index\\.ts$' },
    },
    {
      name: 'no-test-code-in-production',
      comment: 'production code never loads test helpers, test runners or test-only libraries',
      severity: 'error',
      from: { path: PRODUCTION },
      to: { path: ['^packages/(test-support|bench)/', '/(vitest|fast-check|highs|@vitest)/'] },
    },
    {
      name: 'no-undeclared-dependency',
      comment:
        "a package imports only npm packages its package.json declares (pnpm's strict node_modules would fail otherwise)",
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-dev-dependency-in-production',
      comment: 'what ships (the agent bundle, the CLI) must not need a devDependency at run time',
      severity: 'error',
      from: { path: PRODUCTION },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve is a typo or an undeclared dependency',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    exclude: { path: ['\\.test\\.ts$', '^packages/[^/]+/(dist|scratch)/', '^packages/[^/]+/test/'] },
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'default', 'node'],
      extensions: ['.ts', '.js', '.json'],
    },
    combinedDependencies: false,
  },
};
