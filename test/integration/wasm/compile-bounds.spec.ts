import { readFileSync } from 'node:fs';
import { largestNestedLoopsModule, nestedLoopsModule } from '../../../bench/support/wasm-shapes';
import { testConfig, TestConfig } from '../../support/config';
import { V8Runtime } from '../../../src/wasm/v8/v8.runtime';
import { WasmService } from '../../../src/wasm/wasm.service';
import { buildModuleStore, sha256 } from '../../support/wasm';

/** Resident set of this process in bytes (Linux; the guest worker threads live in it). */
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;

/**
 * Issue 13, row 1, in the engine: compilation happens in the run's worker under the run's timeout, and the
 * largest module of the reported shape that the default limits allow runs in bounded memory.
 */
describe('v8: compile cost is bounded and inside the timeout', () => {
  let env: TestConfig;
  let service: WasmService;
  let runtime: V8Runtime;
  let closeStore: () => Promise<void>;

  beforeAll(async () => {
    // Limits opened up for the first test only: a module that costs seconds to compile must reach the runtime.
    env = testConfig({
      WASM_MAX_NESTING_DEPTH: '100000',
      WASM_MAX_FUNCTION_BYTES: '7654321',
      WASM_MAX_LOOP_STATE: '100000000',
      WASM_MAX_MODULE_BYTES: String(64 * 1024 * 1024),
    });
    const store = await buildModuleStore(env.config);
    closeStore = () => store.checker.close();
    runtime = new V8Runtime({ poolSize: 1 });
    service = new WasmService(env.config.wasm, store, [runtime]);
    // Start-up is not the subject: a worker is up before the timed calls.
    await service.runBytes(nestedLoopsModule({ depth: 1 }), { inputs: null, runtime: 'v8' });
  });

  afterAll(async () => {
    await service?.close();
    await closeStore?.();
    env?.cleanup();
  });

  it('ends a run whose module is still compiling at its timeout, with `timeout`', async () => {
    // 36 MB of nested loops. Its compile time depends on the machine (seconds on a busy 2-core VM, under 0.2 s on
    // a fast one), so the timeout is a third of a compile measured here: the run's compile cannot finish in it.
    const heavy = nestedLoopsModule({ depth: 100_000, groups: 20, functions: 6 });
    const started = performance.now();
    await WebAssembly.compile(new Uint8Array(heavy));
    const timeoutMs = Math.max(10, Math.min(100, Math.floor((performance.now() - started) / 3)));
    const light = nestedLoopsModule({ depth: 10 });
    // Negative control: the same engine and timeout run a module that compiles at once.
    expect((await service.runBytes(light, { inputs: null, runtime: 'v8', timeoutMs })).outcome).toBe('ok');
    const result = await service.runBytes(heavy, { inputs: null, runtime: 'v8', timeoutMs });
    expect(result.outcome).toBe('timeout');
    // Ended while compiling: the worker never handed back a compiled module (a compile before the run, outside
    // its timeout, as before, would have cached it), and the light module's was.
    expect(runtime.holdsCompiled(sha256(heavy))).toBe(false);
    expect(runtime.holdsCompiled(sha256(light))).toBe(true);
    // The engine is still usable: the timed-out worker was replaced.
    expect((await service.runBytes(light, { inputs: null, runtime: 'v8' })).outcome).toBe('ok');
  });

  it('runs the largest nested-loops module the default limits allow, in bounded memory', async () => {
    const defaults = testConfig().config.wasm;
    const { bytes, shape } = largestNestedLoopsModule({ ...defaults.structure, ...defaults });
    expect(shape.depth).toBe(defaults.structure.maxNestingDepth);
    const baseline = rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 10);
    try {
      const result = await service.runBytes(bytes, { inputs: null, runtime: 'v8' });
      expect(result.outcome).toBe('ok');
    } finally {
      clearInterval(sampler);
    }
    const grewMb = (peak - baseline) / 1024 / 1024;
    console.log(
      `largest allowed nested-loops module (${shape.functions} × ${shape.groups} × ${shape.depth}): +${grewMb.toFixed(0)} MB RSS`,
    );
    expect(grewMb).toBeLessThan(512); // issue 13's bound over the idle baseline
  });
});
