/**
 * Architecture rules, checked by `npm run lint` (and a test that plants a violation to prove they bite).
 * - No two folders under src/ may import each other, directly or through others (folder cycles).
 * - src/common/ is a leaf: it imports nothing else from src/.
 * - src/config/ composes the environment: it may import common/ and the features' own `*.config.ts` files, nothing else.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      severity: 'error',
      comment: 'Folders under src/ form a hierarchy: a cycle means two features that cannot be understood apart.',
      scope: 'folder',
      from: { path: '^src/[^/]+' },
      to: { circular: true },
    },
    {
      name: 'common-is-a-leaf',
      severity: 'error',
      comment: 'src/common/ is shared by every feature, so it may not depend on any of them.',
      from: { path: '^src/common/' },
      to: { path: '^src/', pathNot: '^src/common/' },
    },
    {
      name: 'config-imports-no-feature',
      severity: 'error',
      comment: 'src/config/ composes per-feature schemas (`*.config.ts`) and may import nothing else of a feature.',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: ['^src/common/', '^src/config/', '^src/[^/]+/[^/]+\\.config\\.ts$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
  },
};
