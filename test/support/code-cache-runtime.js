/*
 * Jest's runtime with V8 code caching (jest.config.js `runtime`: loaded once per worker, outside the tests'
 * sandboxes). Every test file gets a fresh module registry, so each file compiles the app's ~2,500 modules
 * again (Nest, TypeORM, the app): `vm.compileFunction` was ~14 % of a worker's busy time. Here a worker keeps
 * the code cache V8 produces at a module's first compile and hands it to every later compile of the same
 * source, in any later file. Only the compile is shared: each file still evaluates each module afresh, in its
 * own context, as before. A code cache cannot change what the code does: V8 checks it against the source (and
 * its own version and flags) and compiles afresh when it does not match.
 */
'use strict';
const vm = require('node:vm');
const { cachingCompileFunction } = require('./code-cache');

// jest-runtime calls `vm.compileFunction` through the module object at each compile, so it sees this one.
vm.compileFunction = cachingCompileFunction(vm.compileFunction);

module.exports = require('jest-runtime');
