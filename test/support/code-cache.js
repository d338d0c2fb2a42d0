/* A code cache for `vm.compileFunction`: see code-cache-runtime.js, which installs it in Jest's workers. */
'use strict';
const { createHash } = require('node:crypto');

const digest = (source) => createHash('sha1').update(source).digest('base64');
/**
 * On Node 20 a function compiled from a code cache loses its dynamic-import callback: its `import()` throws "A
 * dynamic import callback was not specified" (Node 22 and 24 keep it; code-cache.spec.ts checks which). Such
 * modules (the app's PGlite loader, say) are compiled afresh every time, on every Node version, to keep one path.
 */
const DYNAMIC_IMPORT = /\bimport\s*\(/;

/** `compileFunction` with a code cache per filename, for compiles into a context (`parsingContext`), as Jest's. */
function cachingCompileFunction(compileFunction) {
  /** filename → the code cache of its last compiled source. */
  const caches = new Map();
  return function cachedCompileFunction(code, params, options) {
    const cacheable =
      options?.parsingContext && options.filename && !options.cachedData && !options.produceCachedData;
    if (!cacheable || DYNAMIC_IMPORT.test(code)) return compileFunction.call(this, code, params, options);
    const hash = digest(code);
    const cached = caches.get(options.filename);
    if (cached?.hash === hash) {
      const fn = compileFunction.call(this, code, params, { ...options, cachedData: cached.data });
      if (!fn.cachedDataRejected) return fn;
    }
    const fn = compileFunction.call(this, code, params, { ...options, produceCachedData: true });
    if (fn.cachedDataProduced) caches.set(options.filename, { hash, data: fn.cachedData });
    return fn;
  };
}

module.exports = { cachingCompileFunction };
