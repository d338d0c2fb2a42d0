import { Logger } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testConfig, TestConfig } from '../../support/config';
import { buildEngine, Engine, fixture } from '../../support/wasm';
import {
  DATA_OUT_OF_BOUNDS,
  ELEMENT_OUT_OF_BOUNDS,
  NO_MEMORY,
  START_TRAPS,
} from '../../support/unrunnable-modules';

/**
 * Modules wasmer's SDK fails to instantiate shut down the worker's SDK thread pool (some milliseconds after
 * their own run): every later wasmer run on that worker, anyone's, failed ("Scheduler is dead") or hung.
 */
describe('wasmer: a module cannot break later runs', () => {
  let env: TestConfig;
  let engine: Engine;
  let hostDir: string;

  beforeAll(async () => {
    hostDir = mkdtempSync(join(tmpdir(), 'vcp-wasm-unusable-'));
    // One worker: every run goes to the worker the module before it ran on.
    env = testConfig({ WASM_ALLOWED_ROOTS: join(hostDir, 'modules'), WASM_MAX_CONCURRENCY: '1' });
    engine = await buildEngine(env.config);
  });

  afterAll(async () => {
    await engine?.close();
    env?.cleanup();
    rmSync(hostDir, { recursive: true, force: true });
  });

  const run = (bytes: Uint8Array, runtime: 'v8' | 'wasmer' = 'wasmer', inputs: unknown = null) =>
    engine.service.runBytes(bytes, { inputs, runtime });

  const echoStillRuns = async (call: number) => {
    const echo = await run(fixture('echo'), 'wasmer', { call });
    expect(echo).toEqual(expect.objectContaining({ outcome: 'ok', exit_code: 0, stdout: { call } }));
  };

  it.each([
    ['no exported memory', NO_MEMORY, 'module exports no memory'],
    ['a data segment out of bounds', DATA_OUT_OF_BOUNDS, 'data segment is out of bounds'],
    // Before it was checked here, V8 refused it at instantiation and wasmer ran it to exit_nonzero.
    ['an element segment out of bounds', ELEMENT_OUT_OF_BOUNDS, 'element segment is out of bounds'],
  ])('a module with %s is invalid_module on both runtimes, before it runs', async (_, bytes, reason) => {
    expect(WebAssembly.validate(bytes)).toBe(true);
    for (const runtime of ['v8', 'wasmer'] as const) {
      for (let i = 0; i < 3; i++) {
        const sut = await run(bytes, runtime);
        expect(sut).toEqual(
          expect.objectContaining({
            outcome: 'invalid_module',
            exit_code: null,
            stderr: `invalid module: ${reason}`,
          }),
        );
      }
    }
    await echoStillRuns(1);
  });

  it('a module whose start function traps is a trap on both runtimes, and costs wasmer no worker', async () => {
    expect(WebAssembly.validate(START_TRAPS)).toBe(true);
    // Before its start function was deferred into _start: invalid_module on v8; exit code 45 (ENOEXEC) on
    // wasmer, whose SDK thread pool then shut down, so the worker was replaced after every such run.
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      for (let i = 0; i < 3; i++) {
        for (const runtime of ['v8', 'wasmer'] as const) {
          const sut = await run(START_TRAPS, runtime);
          expect(sut).toEqual(
            expect.objectContaining({ runtime, outcome: 'trap', exit_code: null, stdout: '' }),
          );
          expect(sut.stderr).toContain('unreachable');
        }
        await echoStillRuns(i);
      }
      const replaced = warn.mock.calls.filter(([message]) => String(message).includes('worker replaced'));
      expect(replaced).toEqual([]);
    } finally {
      warn.mockRestore();
    }
  });
});
