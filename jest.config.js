/** @type {import('jest').Config} */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }];
const vm = require('node:vm');
// Node can require() ES modules; Jest's CommonJS runtime can only where node:vm evaluates a module graph
// synchronously (Node 24.9+, the same test Jest makes): there it loads them as ES modules itself, and a
// transpiled copy would run as an ES module without `exports`. Elsewhere (Node 20, 22) the few ESM-only packages
// on our path are transpiled to CommonJS for the tests alone.
const JEST_REQUIRES_ESM = typeof vm.SourceTextModule?.prototype.hasAsyncGraph === 'function';
const ESM_ONLY = JEST_REQUIRES_ESM ? [] : ['content-disposition'];
const esmToCjs = [
  'ts-jest',
  { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, diagnostics: false },
];
/** Tests that measure time or event-loop lag: they run in a second pass with nothing else on the machine. */
const SERIAL = [
  '/test/integration/wasm/conformance.spec.ts',
  '/test/integration/wasm/event-loop.spec.ts',
  '/test/integration/proofs/concurrency.spec.ts',
  // A 100 ms run timeout as its negative control, and an RSS bound: a loaded parallel pass timed the control out.
  '/test/integration/wasm/compile-bounds.spec.ts',
  // A wasmer worker must start within 15 s (START_LIMIT_MS): under a loaded parallel pass, one start took longer.
  '/test/integration/wasm/wasmer-runtime.spec.ts',
  '/test/integration/wasm/wasmer-unusable-worker.spec.ts',
  // A whole deployment (replicas, agents, PostgreSQL and Redis of its own) with faults: alone on the machine.
  '/test/chaos/chaos-ci.spec.ts',
];
const common = {
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    '^.+\\.ts$': tsJest,
    ...(ESM_ONLY.length ? { [`node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: esmToCjs } : {}),
  },
  transformIgnorePatterns: ESM_ONLY.length
    ? [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`]
    : ['/node_modules/'],
  testEnvironment: 'node',
};
/**
 * The parallel pass's projects reuse V8's code cache for the modules every test file loads again (see the
 * runtime); the serial pass, which measures time and memory, keeps Jest's own runtime.
 */
const parallel = { ...common, runtime: '<rootDir>/test/support/code-cache-runtime.js' };

module.exports = {
  // Two cores, three workers: many files wait on timers, child processes or the database, which left a core idle
  // 8–11 % of the parallel pass with two (a 24-file sample: 131–140 s with two workers, 123 s with three, idle 1 %).
  maxWorkers: 3,
  // A worker that ran ~100 files holds ~2 GB of heap and ~3 GB resident (vm contexts Node keeps alive: on Node 20
  // through the ES modules PGlite's import() creates, on 24 through V8's template caches). Exiting it took 401–471 ms
  // from its 'exit' event to its end, three at once, against Jest's default allowance of 500 ms; past that Jest
  // kills it and warns "a worker process has failed to exit gracefully" (3 of 5 full passes, with no open handle).
  workerGracefulExitTimeout: 3000,
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    { ...parallel, displayName: 'unit', rootDir: '.', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    {
      ...parallel,
      displayName: 'integration',
      rootDir: '.',
      testMatch: ['<rootDir>/test/integration/**/*.spec.ts'],
      testPathIgnorePatterns: SERIAL,
      globalSetup: '<rootDir>/test/support/global-setup.js',
    },
    {
      ...parallel,
      displayName: 'e2e',
      rootDir: '.',
      testMatch: ['<rootDir>/test/e2e/**/*.spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
    },
    {
      // Timing-sensitive: runs alone, after the rest (see test/support/run-tests.js).
      ...common,
      displayName: 'serial',
      rootDir: '.',
      testMatch: SERIAL.map((path) => `<rootDir>${path}`),
    },
  ],
};
