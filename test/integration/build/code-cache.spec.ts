import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * The parallel pass's Jest workers compile modules through test/support/code-cache.js (installed by
 * code-cache-runtime.js). Checked in a child process, away from the worker's own installed copy.
 */
const CHECKS = `
const vm = require('node:vm');
const { cachingCompileFunction } = require(process.argv[1]);
const given = [];
const compile = cachingCompileFunction(function (code, params, options) {
  given.push({ cachedData: Boolean(options.cachedData), produce: Boolean(options.produceCachedData) });
  return vm.compileFunction(code, params, options);
});
const context = (marker) => vm.createContext({ marker });
const into = (ctx, filename = '/m/plain.js') => ({
  filename,
  parsingContext: ctx,
  importModuleDynamically: (specifier) => import(specifier),
});
(async () => {
  const out = {};
  const plain = 'return [marker, typeof Array];';
  out.firstRun = compile(plain, [], into(context('a')))();
  const second = compile(plain, [], into(context('b')));
  out.secondRun = second();
  out.secondRejected = second.cachedDataRejected;
  out.changedRun = compile('return marker + "!";', [], into(context('c')))();
  out.plainGiven = given.splice(0);

  const dynamic = "return import('node:os').then((os) => typeof os.cpus);";
  const first = compile(dynamic, [], into(context('d'), '/m/dynamic.js'));
  out.dynamicFirst = await first();
  out.dynamicSecond = await compile(dynamic, [], into(context('e'), '/m/dynamic.js'))();
  out.dynamicGiven = given.splice(0);

  // Negative control: the same source handed a code cache anyway.
  const primed = vm.compileFunction(dynamic, [], { ...into(context('f'), '/m/x.js'), produceCachedData: true });
  const fromCache = vm.compileFunction(dynamic, [], { ...into(context('g'), '/m/x.js'), cachedData: primed.cachedData });
  out.control = await fromCache().then((value) => value, (error) => 'error: ' + error.message);
  process.stdout.write(JSON.stringify(out));
})();
`;

describe("the test workers' code cache", () => {
  let out: Record<string, unknown>;
  beforeAll(() => {
    const cache = join(__dirname, '../../support/code-cache.js');
    const stdout = execFileSync(
      process.execPath,
      ['--experimental-vm-modules', '--no-warnings', '-e', CHECKS, cache],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      },
    );
    out = JSON.parse(stdout) as Record<string, unknown>;
  });

  it("hands a module's code cache to its next compile, which still runs in its own context", () => {
    expect(out.firstRun).toEqual(['a', 'function']);
    expect(out.secondRun).toEqual(['b', 'function']);
    expect(out.secondRejected).toBe(false);
    expect(out.changedRun).toBe('c!');
    expect(out.plainGiven).toEqual([
      { cachedData: false, produce: true },
      { cachedData: true, produce: false },
      // A changed source under the same filename is not handed the old source's cache.
      { cachedData: false, produce: true },
    ]);
  });

  it('compiles a module that uses import() afresh every time, so its import() keeps working', () => {
    expect([out.dynamicFirst, out.dynamicSecond]).toEqual(['function', 'function']);
    expect(out.dynamicGiven).toEqual([
      { cachedData: false, produce: false },
      { cachedData: false, produce: false },
    ]);
  });

  // Why: on Node 20, a function compiled from a code cache has lost its dynamic-import callback (Node 22 and 24
  // keep it). When Node 20 is no longer supported, the exclusion can go.
  it(`(control) on Node ${process.versions.node}, import() from a cached compile ${
    process.versions.node.startsWith('20.') ? 'fails' : 'works'
  }`, () => {
    expect(out.control).toBe(
      process.versions.node.startsWith('20.')
        ? 'error: A dynamic import callback was not specified.'
        : 'function',
    );
  });
});
