import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WasmRuntimeName } from '../../../src/wasm/wasm.config';
import type { RunRequest } from '../../../src/wasm/run-request';
import { testConfig, TestConfig } from '../../support/config';
import { eventually } from '../../support/eventually';
import {
  buildEngine,
  Engine,
  fixture,
  Fixture,
  measureEventLoop,
  sha256,
  spinningGuestThreads,
  threadExists,
  TIMED_RUNTIMES,
} from '../../support/wasm';

const MEMORY_MB = 64;
const OUTPUT_BYTES = 64 * 1024;

/**
 * One contract, two engines: every case runs on v8 (node:wasi in worker threads) and on wasmer
 * (@wasmer/sdk), against the hostile modules in test/fixtures/wasm.
 */
describe.each<WasmRuntimeName>(TIMED_RUNTIMES)('WASM engine conformance on %s', (runtime) => {
  let env: TestConfig;
  let engine: Engine;
  let hostDir: string;

  beforeAll(async () => {
    hostDir = mkdtempSync(join(tmpdir(), 'vcp-wasm-host-'));
    env = testConfig({
      WASM_ALLOWED_ROOTS: join(hostDir, 'modules'),
      WASM_TIMEOUT_SECS: '5',
      WASM_MAX_MEMORY_MB: String(MEMORY_MB),
      WASM_MAX_OUTPUT_BYTES: String(OUTPUT_BYTES),
      WASM_MAX_CONCURRENCY: '2',
    });
    engine = await buildEngine(env.config);
    await run('echo', { inputs: 'warm-up' }); // the first wasmer call pays ~0.5 s of SDK start-up
  });

  afterAll(async () => {
    await engine?.close();
    env?.cleanup();
    rmSync(hostDir, { recursive: true, force: true });
  });

  const run = (name: Fixture, request: Partial<RunRequest> = {}) =>
    engine.service.runBytes(fixture(name), { inputs: null, runtime, ...request });

  it('echo: stdin carries the JSON inputs; stdout comes back parsed, with every hash', async () => {
    const inputs = { numbers: [1, 2.5, -3], text: 'héllo "wasm"', nested: { ok: true, none: null } };
    const sut = await run('echo', { inputs });
    expect(sut).toEqual({
      exit_code: 0,
      stdout: inputs,
      stderr: '',
      execution_time_ms: expect.any(Number),
      module_hash: sha256(fixture('echo')),
      inputs_hash: sha256(JSON.stringify(inputs)),
      output_hash: sha256(JSON.stringify(inputs)),
      runtime,
      outcome: 'ok',
    });
  });

  it('exit code and stderr: argv reaches the guest, a nonzero exit is exit_nonzero', async () => {
    const sut = await run('exit_code', { args: ['7'] });
    expect(sut).toEqual(
      expect.objectContaining({ outcome: 'exit_nonzero', exit_code: 7, stdout: { argc: 2 } }),
    );
    expect(sut.stderr).toBe('exiting with 7\n');
    expect((await run('exit_code', { args: ['0'] })).outcome).toBe('ok');
  });

  it('infinite loop: killed within timeout + 500 ms while the event loop stays responsive', async () => {
    const started = performance.now();
    const {
      value: { value: sut, spinning },
      p99Ms,
      maxMs,
    } = await measureEventLoop(() => spinningGuestThreads(() => run('loop', { timeoutMs: 1000 }), 300));
    const elapsed = performance.now() - started;
    expect(sut).toEqual(expect.objectContaining({ outcome: 'timeout', exit_code: null }));
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(1500);
    expect(p99Ms).toBeLessThan(50);
    console.log(
      `[${runtime}] loop: ${elapsed.toFixed(0)} ms, event loop p99 ${p99Ms.toFixed(1)} ms, max ${maxMs.toFixed(1)} ms`,
    );
    // "Killed" means the guest's thread is gone, not just reported stopped (wasmer's own kill() leaves a
    // spinning guest running): the thread that spun throughout ends within moments of the answer.
    if (spinning) {
      expect(spinning.size).toBeGreaterThan(0);
      const deadline = performance.now() + 1000;
      while ([...spinning].some(threadExists) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect([...spinning].filter(threadExists)).toEqual([]);
    }
    // The engine is healthy afterwards: the next call runs normally.
    expect((await run('echo', { inputs: [1] })).stdout).toEqual([1]);
  });

  it('a run cancelled through its signal stops then (a timeout saying so), and the engine runs the next call', async () => {
    const cancel = new AbortController();
    const running = run('loop', { timeoutMs: 5000, signal: cancel.signal });
    await eventually(() => expect(engine.service.stats.active).toBe(1));
    cancel.abort();
    const sut = await running;
    // Not the 5 s timeout: that one has no detail.
    expect(sut).toMatchObject({ outcome: 'timeout', exit_code: null, stderr: '[timeout: cancelled]' });
    expect((await run('echo', { inputs: [2] })).stdout).toEqual([2]);
  });

  it('memory bomb: stops at the memory cap, promptly, reporting the failed allocation', async () => {
    const sut = await run('memory_bomb');
    // v8 sees the final memory size and reports memory_limit; wasmer reports the guest's clean failure.
    expect(sut.outcome).toBe(runtime === 'v8' ? 'memory_limit' : 'exit_nonzero');
    const reached = /allocation failed after (\d+) MiB/.exec(sut.stderr);
    expect(reached).not.toBeNull();
    expect(Number(reached![1])).toBeGreaterThan(MEMORY_MB / 2);
    expect(Number(reached![1])).toBeLessThanOrEqual(MEMORY_MB);
  });

  it.each<Fixture>(['recursion', 'trap'])('%s: ends in a trap', async (name) => {
    const sut = await run(name);
    expect(sut).toEqual(expect.objectContaining({ outcome: 'trap', exit_code: null }));
    expect((await run('echo', { inputs: 'still fine' })).stdout).toBe('still fine');
  });

  it('output flood: output_limit, with stdout capped at WASM_MAX_OUTPUT_BYTES', async () => {
    const sut = await run('flood', { timeoutMs: 3000 });
    expect(sut.outcome).toBe('output_limit');
    expect(typeof sut.stdout).toBe('string');
    expect((sut.stdout as string).length).toBeLessThanOrEqual(OUTPUT_BYTES);
    expect((sut.stdout as string).length).toBeGreaterThan(OUTPUT_BYTES / 2);
  });

  it('reading /etc/passwd fails inside the guest', async () => {
    const sut = await run('read_file', { args: ['/etc/passwd'] });
    expect(sut.outcome).toBe('exit_nonzero');
    expect(sut.stdout).toEqual({ opened: false, errno: expect.any(Number) });
    expect(sut.stderr).not.toContain('root:');
  });

  it('writing a host file fails inside the guest and leaves the file untouched', async () => {
    const target = join(hostDir, 'victim.txt');
    writeFileSync(target, 'original');
    const sut = await run('write_file', { args: [target] });
    expect(sut.stdout).toEqual({ opened: false, errno: expect.any(Number) });
    expect(readFileSync(target, 'utf8')).toBe('original');
  });

  it('sees no host environment variable, only the ones the call lists', async () => {
    process.env.VCP_WASM_HOST_SECRET = 'host-only-value';
    try {
      const hidden = await run('env', { args: ['VCP_WASM_HOST_SECRET'] });
      expect(hidden.stdout).toEqual({ count: 0, value: null });
      const listed = await run('env', { args: ['GREETING'], env: { GREETING: 'hello' } });
      expect(listed.stdout).toEqual({ count: 1, value: 'hello' });
    } finally {
      delete process.env.VCP_WASM_HOST_SECRET;
    }
  });

  it('a module with a non-WASI import is invalid_module and never runs', async () => {
    const sut = await run('host_import');
    expect(sut).toEqual(expect.objectContaining({ outcome: 'invalid_module', exit_code: null }));
    expect(sut.stderr).toContain('env.host_escape');
  });

  it('refuses modules whose initial memory exceeds the cap (rewritten limits are enforced)', async () => {
    const big = Buffer.from(fixture('tiny'));
    // tiny.wasm's memory section is `05 03 01 00 02`… (1 memory, no max, min=2 pages); raise min past the cap.
    const section = big.indexOf(Buffer.from([0x05, 0x03, 0x01, 0x00]));
    expect(section).toBeGreaterThan(0);
    const patched = Buffer.concat([
      big.subarray(0, section),
      Buffer.from([0x05, 0x04, 0x01, 0x00, 0xd0, 0x0f]), // min = 2000 pages (125 MiB), LEB128 d0 0f
      big.subarray(section + 5),
    ]);
    const sut = await engine.service.runBytes(patched, { inputs: null, runtime });
    expect(WebAssembly.validate(patched)).toBe(true);
    expect(sut.outcome).toBe('invalid_module');
    expect(sut.stderr).toContain('initial memory exceeds the memory limit');
  });

  it('determinism: same output twice with `deterministic` on v8; refused on wasmer; differs without', async () => {
    const free = [await run('clock_random'), await run('clock_random')];
    expect(free.map((r) => r.outcome)).toEqual(['ok', 'ok']);
    expect(free[0].output_hash).not.toBe(free[1].output_hash);
    expect((free[0].stdout as { random: string }).random).not.toBe(
      (free[1].stdout as { random: string }).random,
    );
    if (runtime === 'wasmer') {
      await expect(run('clock_random', { deterministic: true })).rejects.toMatchObject({
        code: 'validation_error',
        extra: { details: [expect.objectContaining({ field: 'deterministic' })] },
      });
      return;
    }
    const fixed = [
      await run('clock_random', { deterministic: true }),
      await run('clock_random', { deterministic: true }),
    ];
    expect(fixed[0].outcome).toBe('ok');
    expect(fixed[0].output_hash).toBe(fixed[1].output_hash);
    expect(fixed[0].stdout).toEqual(fixed[1].stdout);
    const clock = fixed[0].stdout as { realtime_ns: number[] };
    expect(clock.realtime_ns[1]).toBeGreaterThan(clock.realtime_ns[0]); // the fixed clock still advances
  });
});
