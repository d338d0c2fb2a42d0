import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WasmRuntimeName } from '../../../src/wasm/wasm.config';
import { testConfig, TestConfig } from '../../support/config';
import { buildEngine, Engine, fixture, measureEventLoop, TIMED_RUNTIMES } from '../../support/wasm';

const CALLS = 20;
const TIMEOUT_MS = 1000;

/**
 * Acceptance 5: twenty long-running (runaway) modules submitted at once do not starve the event loop. The
 * engine runs WASM_MAX_CONCURRENCY of them at a time (4 here, twice the cores of the CI machine, so guests
 * really compete with the event loop for CPU) and queues the rest; every one ends in `timeout`. Both runtimes
 * stop a runaway guest by terminating the worker thread it runs in, and start a fresh worker in its place.
 */
describe.each<WasmRuntimeName>(TIMED_RUNTIMES)('%s: 20 concurrent runaway modules', (runtime) => {
  let env: TestConfig;
  let engine: Engine;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vcp-wasm-lag-'));
    env = testConfig({ WASM_ALLOWED_ROOTS: dir, WASM_MAX_CONCURRENCY: '4', WASM_TIMEOUT_SECS: '5' });
    engine = await buildEngine(env.config);
    await engine.service.runBytes(fixture('echo'), { inputs: null, runtime }); // start-up is not the subject
  });

  afterAll(async () => {
    await engine?.close();
    env?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps event-loop lag p99 under 50 ms while all of them run and time out', async () => {
    const loop = fixture('loop');
    let peakActive = 0;
    let peakQueued = 0;
    const probe = setInterval(() => {
      peakActive = Math.max(peakActive, engine.service.stats.active);
      peakQueued = Math.max(peakQueued, engine.service.stats.queued);
    }, 20);
    const {
      value: results,
      p99Ms,
      maxMs,
    } = await measureEventLoop(() =>
      Promise.all(
        Array.from({ length: CALLS }, () =>
          engine.service.runBytes(loop, { inputs: null, runtime, timeoutMs: TIMEOUT_MS }),
        ),
      ),
    );
    clearInterval(probe);
    console.log(
      `[${runtime}] ${CALLS} runaway modules: event loop p99 ${p99Ms.toFixed(1)} ms, max ${maxMs.toFixed(1)} ms`,
    );
    expect(results.map((r) => r.outcome)).toEqual(Array(CALLS).fill('timeout'));
    expect(peakActive).toBe(4); // the concurrency cap held…
    expect(peakQueued).toBeGreaterThan(0); // …and the excess queued
    expect(p99Ms).toBeLessThan(50);
    // Afterwards the engine still serves normal calls.
    expect(
      (await engine.service.runBytes(fixture('echo'), { inputs: { after: true }, runtime })).stdout,
    ).toEqual({
      after: true,
    });
  });
});
