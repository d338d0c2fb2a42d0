// @ts-check
'use strict';
/*
 * The module check thread (piscina): runs checkModule (module-check.ts) on uploaded or stored bytes, so
 * that parsing a 10 MB module never blocks the event loop. Plain JavaScript so the same file starts from
 * src/ (tests) and dist/ (copied by nest-cli assets). In dist the compiled module-check.js sits beside it;
 * from src/ (tests, which never build) the TypeScript is transpiled on load with the compiler the
 * repository already has as a dev dependency. Production never takes that path: dist has the .js files.
 */
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

if (!existsSync(join(__dirname, 'module-check.js')) && !require.extensions['.ts']) {
  const ts = require('typescript');
  require.extensions['.ts'] = (module, filename) => {
    const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      fileName: filename,
    });
    /** @type {{ _compile(code: string, filename: string): void }} */ (
      /** @type {unknown} */ (module)
    )._compile(outputText, filename);
  };
}

const { checkModule } = require('./module-check');

/** @param {{ bytes: Uint8Array, limits: import('./wasm.config').StructuralLimits }} task */
module.exports = ({ bytes, limits }) => checkModule(bytes, limits);
